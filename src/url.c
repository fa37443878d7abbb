/* url: URLs made fit for a log line (libcurl's URL API does the parsing). */
#include "config.h"

#include <curl/curl.h>

#include "corad/alloc.h"
#include "corad/url.h"

char *
url_redact(const char *url)
{
	CURLU *u = curl_url();
	char *out = NULL, *copy;

	if (u == NULL)
		alloc_failed(0);
	if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
		curl_url_cleanup(u);
		return xstrdup("(not a URL)");
	}
	curl_url_set(u, CURLUPART_USER, NULL, 0);
	curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
	curl_url_set(u, CURLUPART_OPTIONS, NULL, 0);
	curl_url_set(u, CURLUPART_QUERY, NULL, 0);
	curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
	if (curl_url_get(u, CURLUPART_URL, &out, 0) != CURLUE_OK || out == NULL) {
		curl_url_cleanup(u);
		return xstrdup("(not a URL)");
	}
	copy = xstrdup(out);
	curl_free(out);
	curl_url_cleanup(u);
	return copy;
}
