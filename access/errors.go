package access

import (
	"fmt"

	"github.com/ftpbridge/ftpbridge/internal/urlpath"
)

// NeedLoginError is a request for a site that needs a login it did not
// bring: no credentials at all (Err is nil), or ones the server refused
// (Err says how). The front that received the request asks for one in its
// own way: a form, or an HTTP Basic challenge.
type NeedLoginError struct {
	Site urlpath.Site
	Err  error
}

func (e *NeedLoginError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s://%s refused the login: %v", e.Site.Scheme, e.Site, e.Err)
	}
	return fmt.Sprintf("%s://%s needs a login", e.Site.Scheme, e.Site)
}

func (e *NeedLoginError) Unwrap() error { return e.Err }

// BadRequestError is a request that cannot mean anything (HTTP 400); Msg
// says why, in words for the person who sent it.
type BadRequestError struct{ Msg string }

func (e *BadRequestError) Error() string { return e.Msg }

func badRequest(format string, args ...any) *BadRequestError {
	return &BadRequestError{Msg: fmt.Sprintf(format, args...)}
}

// SiteError is a site that could not be reached or used with the login
// given, before the request's own operation: Err is ftppool's, for the
// front to sort with ftppool.ErrorKind.
type SiteError struct {
	Site urlpath.Site
	Err  error
}

func (e *SiteError) Error() string { return fmt.Sprintf("%s://%s: %v", e.Site.Scheme, e.Site, e.Err) }

func (e *SiteError) Unwrap() error { return e.Err }
