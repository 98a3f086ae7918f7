// Package sim is a Room Engine REST API simulator: an http.Handler that
// answers v4/room_engine_http_mic/lock_seat with the real API's semantics,
// so demos and tests can exercise roomwarden end to end on loopback.
//
// By default it is as strict as the real service: it checks the method,
// the query parameters, the UserSig of a configured App administrator
// (60010 for anyone else), and a JSON body with exactly the API's field
// names (case-sensitive, no unknown or repeated fields: 100002); a room
// must have been created first (100004) and have seats (100211), and
// Index must be one of them (100002). Config.Lenient relaxes all of that
// for load runs. It keeps seat state per room and index, allows at most
// Limit accepted calls in any rolling second (60007 beyond), and injects
// faults on demand: error codes, HTTP 502, added latency, flaky rooms.
// Every call is kept in a record that tests read with Calls and
// MaxInWindow, and logged as one line, never with its usersig.
//
// Routes:
//
//	POST   /v4/room_engine_http_mic/lock_seat   the API
//	GET    /rooms/{id}/seats                    a room's seat state as JSON
//	POST   /rooms/{id}[?seats=N]                create a room (DefaultSeats seats)
//	DELETE /rooms/{id}                          destroy a room
//	POST   /rooms/{id}/faults?calls=N[&code=C|&http_status=S][&delay=D]
//	                                            fail the room's next N calls (FailRoom;
//	                                            default code 100001), each answer
//	                                            held back D (a Go duration) if given
package sim
