// Package promreg is the one way roomwarden registers its Prometheus
// collectors: each component creates its collectors once and registers
// them on the Registerer it is given, returning the error (a name
// registered twice is a bug to report, not to paper over).
package promreg

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Register registers cs on reg, stopping at the first error. A nil reg
// registers nothing, for components built without metrics.
func Register(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	if reg == nil {
		return nil
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register metrics: %w", err)
		}
	}
	return nil
}
