package sim

// The Room Engine error codes the simulator answers.
const (
	CodeHTTPParse         = 60002  // not a POST
	CodeBadJSON           = 60003  // body is not JSON
	CodeInvalidApp        = 60006  // sdkappid is not the simulator's
	CodeFrequencyLimit    = 60007  // over Limit calls in a rolling second
	CodeAdminRequired     = 60010  // identifier is not an admin
	CodeBadQuery          = 60025  // a query parameter is missing or malformed
	CodeUserSigExpired    = 70001  // usersig expired
	CodeUserSigIllegal    = 70003  // usersig malformed
	CodeUserSigKey        = 70009  // usersig signed with another key
	CodeUserSigIdentifier = 70013  // usersig issued to another identifier
	CodeUserSigAppID      = 70014  // usersig issued for another sdkappid
	CodeInternal          = 100001 // used by fault injection
	CodeBadParameter      = 100002 // bad body: a field, its type, or an Index the room lacks
	CodeRoomNotFound      = 100004 // a room never created, or removed
	CodeSeatsNotSupported = 100211 // the room has no seats
)

// verdict is the answer to a call: code 0 is success.
type verdict struct {
	code int
	info string
}

func (v verdict) failed() bool { return v.code != 0 }

func fail(code int, info string) verdict { return verdict{code: code, info: info} }
