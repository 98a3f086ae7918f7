package roomengine

import (
	"errors"
	"net/url"
)

// redactedError shows its cause with every usersig redacted while keeping
// the cause reachable for errors.Is and errors.As.
type redactedError struct{ err error }

func (e *redactedError) Error() string { return RedactURL(e.err.Error()) }
func (e *redactedError) Unwrap() error { return e.err }

// redactErr redacts the URL inside a *url.Error (which net/http puts in
// every transport error) and wraps err so its message is redacted too.
func redactErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = RedactURL(ue.URL)
	}
	return &redactedError{err: err}
}
