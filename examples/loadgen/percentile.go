package main

import (
	"math"
	"slices"
	"time"
)

// percentile returns the q-quantile (0 < q <= 1) of ds by the
// nearest-rank method: the smallest value that at least q of the values
// do not exceed. It sorts ds. Zero for no values.
func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	rank := int(math.Ceil(q * float64(len(ds))))
	return ds[max(rank, 1)-1]
}
