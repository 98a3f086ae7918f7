// Package sim is a Room Engine REST API simulator: an http.Handler that
// answers v4/room_engine_http_mic/lock_seat with the real API's semantics,
// so demos and tests can exercise roomwarden end to end on loopback.
//
// It checks what the real service checks (method, query parameters, the
// administrator UserSig, the JSON body), keeps seat state per room and
// index, allows at most Limit accepted calls in any rolling second (60007
// beyond), answers 100004 for unknown rooms in strict mode, and injects
// faults on demand: error codes, HTTP 502, added latency, flaky rooms.
// Every call is kept in a record that tests read with Calls and
// MaxInWindow, and logged as one line, never with its usersig.
//
// Routes:
//
//	POST   /v4/room_engine_http_mic/lock_seat   the API
//	GET    /rooms/{id}/seats                    a room's seat state as JSON
//	POST   /rooms/{id}[?seats=N]                create a room (strict mode)
//	DELETE /rooms/{id}                          destroy a room
package sim
