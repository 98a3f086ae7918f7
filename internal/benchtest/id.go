package benchtest

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// idPrefix starts every generated event id.
const idPrefix = "lg-"

// AppendID appends the id of event seq published at at:
// lg-<seq>-<unix nanoseconds>.
func AppendID(b []byte, seq uint64, at time.Time) []byte {
	b = append(b, idPrefix...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, '-')
	return strconv.AppendInt(b, at.UnixNano(), 10)
}

// ParseID returns the sequence number and publish time that an id from
// AppendID carries.
func ParseID(id string) (uint64, time.Time, error) {
	rest, ok := strings.CutPrefix(id, idPrefix)
	seqS, nanoS, ok2 := strings.Cut(rest, "-")
	if !ok || !ok2 {
		return 0, time.Time{}, errors.New("benchtest: not a generated event id: " + id)
	}
	seq, err := strconv.ParseUint(seqS, 10, 64)
	if err != nil {
		return 0, time.Time{}, errors.New("benchtest: bad sequence in id " + id)
	}
	nanos, err := strconv.ParseInt(nanoS, 10, 64)
	if err != nil {
		return 0, time.Time{}, errors.New("benchtest: bad time in id " + id)
	}
	return seq, time.Unix(0, nanos), nil
}
