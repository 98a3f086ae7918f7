package app

import "fmt"

// ListenError is an address from the config that could not be bound,
// usually because another process holds the port. Key is the config key
// that names the address, so the caller can say what to change.
type ListenError struct {
	Key  string // nats.embedded.listen or http.listen
	Addr string
	Err  error
}

func (e *ListenError) Error() string {
	return fmt.Sprintf("%s %s: %v", e.Key, e.Addr, e.Err)
}

func (e *ListenError) Unwrap() error { return e.Err }
