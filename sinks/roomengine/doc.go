// Package roomengine is the client for the Tencent Cloud Room Engine server
// REST API call roomwarden makes: v4/room_engine_http_mic/lock_seat.
//
// It signs every call with an administrator UserSig (TLSSigAPIv2) generated
// in-process from the app's secret key, makes exactly one HTTP call per
// LockSeat (plus a single regenerate-and-retry when the API says the
// UserSig expired, code 70001), and turns every failure into an
// *engine.CallError whose Class tells the executor whether to retry. Retries,
// backoff and rate limiting are the executor's job, not this package's.
//
// The endpoint is the scheme and host of the app's data centre:
//
//	China           https://console.tim.qq.com
//	Singapore       https://adminapisgp.im.qcloud.com
//	Seoul           https://adminapikr.im.qcloud.com
//	Frankfurt       https://adminapiger.im.qcloud.com
//	Silicon Valley  https://adminapiusa.im.qcloud.com
//	Jakarta         https://adminapiidn.im.qcloud.com
//
// Each region also has a backup domain (adminapi.my-imcloud.com for China,
// adminapisgp.my-imcloud.com and so on). Any scheme and host is accepted, so
// tests and demos point it at the simulator on http://127.0.0.1:PORT.
//
// The secret key and the usersig never appear in errors or logs: the
// usersig query parameter is rendered as usersig=REDACTED everywhere.
package roomengine
