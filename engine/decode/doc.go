// Package decode turns the bytes of one stored message into canonical
// room events (rules.Event): canonical JSON, decoded by a hand-written
// validating scanner without reflection, and Tencent Room Engine
// callback bodies, mapped to the canonical model. Everything it cannot
// decode is an *Error whose reason tells the producer what to fix, so
// the pipeline can dead-letter it and move on.
package decode
