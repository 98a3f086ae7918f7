package roomengine

import "github.com/roomwarden/roomwarden/engine"

// Room Engine error codes the client or its tests name.
const (
	CodeUserSigExpired = 70001
	CodeFrequencyLimit = 60007
	CodeInternal       = 100001
	CodeBadParameter   = 100002
	CodeRoomNotFound   = 100004
	CodeNoSeats        = 100211
)

// Classify returns what the executor should do about ErrorCode code:
// Throttled for the frequency limits (60007, 60011, 60018, 60019),
// Retryable for transient backend failures (100001, 60004, 60005, 60008,
// 60014, 70169, 70500), Permanent for everything else: bad parameters,
// missing rooms, UserSig and account errors, unknown codes.
//
// 70050 ("sig failures too frequent, retry after 1 minute") is Permanent:
// a one-minute pause cannot be expressed through the executor's backoff,
// and retrying sooner only extends the ban.
func Classify(code int) engine.ErrorClass {
	switch code {
	case 60007, 60011, 60018, 60019:
		return engine.Throttled
	case 100001, 60004, 60005, 60008, 60014, 70169, 70500:
		return engine.Retryable
	}
	return engine.Permanent
}

// classifyStatus classes a non-200 HTTP status: 5xx and 429 are transient.
func classifyStatus(status int) engine.ErrorClass {
	if status >= 500 || status == 429 {
		return engine.Retryable
	}
	return engine.Permanent
}
