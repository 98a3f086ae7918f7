package natspub

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// register registers c on reg, or returns the collector already
// registered under the same name.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if reg == nil {
		return c
	}
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	return c
}
