/* url: URLs made fit for a log line. */
#ifndef CORAD_URL_H
#define CORAD_URL_H

/*
 * The URL without what may be a secret: user and password, query string
 * and fragment are dropped (libcurl's URL parser decides what is what, for
 * any scheme). Something that does not parse as a URL is not echoed at
 * all. Returns a new string the caller frees.
 */
char	*url_redact(const char *url);

#endif
