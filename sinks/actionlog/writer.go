package actionlog

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// maxBatch bounds how many lines one write carries.
const maxBatch = 512

// request is one line waiting to be written; done receives the result.
type request struct {
	line []byte
	done chan error
}

// writer owns the file. Only its run goroutine touches the fields below
// the channels.
type writer struct {
	reqs     chan *request
	reopens  chan chan error
	quit     chan struct{}
	done     chan struct{}
	closeErr error // set before done is closed

	path  string
	opts  Config
	owner *Log

	out     io.Writer   // the file, or stdout
	file    *os.File    // nil for stdout, and after a failure
	info    os.FileInfo // the opened file's identity, for rename checks
	partial bool        // a failed write left half a line on file
	buf     []byte      // the batch being written
	batch   []*request  // the requests in buf
}

func newWriter(path string, opts Config, owner *Log) (*writer, error) {
	w := &writer{
		reqs:    make(chan *request, maxBatch),
		reopens: make(chan chan error),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
		path:    path,
		opts:    opts,
		owner:   owner,
	}
	if path == Stdout {
		w.out = opts.Stdout
		return w, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, err
	}
	if err := w.open(); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *writer) run() {
	defer close(w.done)
	tick := time.NewTicker(w.opts.CheckInterval)
	defer tick.Stop()
	for {
		select {
		case req := <-w.reqs:
			w.writeBatch(req)
		case reply := <-w.reopens:
			reply <- w.reopen("reopen requested")
		case <-tick.C:
			w.checkRotated()
		case <-w.quit:
			w.drain()
			w.closeErr = w.closeFile()
			return
		}
	}
}

// drain writes every request still queued at Close.
func (w *writer) drain() {
	for {
		select {
		case req := <-w.reqs:
			w.writeBatch(req)
		default:
			return
		}
	}
}

// writeBatch writes first and whatever else is queued in one write and
// tells every waiting Record the result.
func (w *writer) writeBatch(first *request) {
	w.collect(first)
	w.buf = w.buf[:0]
	if w.partial {
		w.buf = append(w.buf, '\n') // end the torn line of a failed write
	}
	for _, req := range w.batch {
		w.buf = append(w.buf, req.line...)
	}
	err := w.write(w.buf)
	w.owner.setHealth(err)
	if err == nil {
		w.owner.metrics.lines.Add(float64(len(w.batch)))
	} else {
		w.owner.metrics.writeErrors.Inc()
		err = fmt.Errorf("write action log %s: %w", w.path, err)
	}
	for i, req := range w.batch {
		req.done <- err
		w.batch[i] = nil
	}
}

// collect fills w.batch with first and the requests already queued.
func (w *writer) collect(first *request) {
	w.batch = append(w.batch[:0], first)
	for len(w.batch) < maxBatch {
		select {
		case req := <-w.reqs:
			w.batch = append(w.batch, req)
		default:
			return
		}
	}
}

// write writes buf, reopening the file first if a failure closed it.
func (w *writer) write(buf []byte) error {
	if w.out == nil {
		if err := w.open(); err != nil {
			return err
		}
	}
	n, err := w.out.Write(buf)
	if n > 0 {
		w.partial = buf[n-1] != '\n'
	}
	if err != nil {
		w.closeFile() // reopen on the next write: the path may be fixed by then
		return err
	}
	return nil
}

func (w *writer) open() error {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, w.opts.FileMode)
	if err != nil {
		return err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	w.file, w.out, w.info = f, f, info
	return nil
}

func (w *writer) closeFile() error {
	if w.file == nil {
		return nil
	}
	err := w.file.Close()
	w.file, w.out, w.info = nil, nil, nil
	return err
}

// reopen closes the file and opens the path again. A failure is reported
// and the next write retries the open.
func (w *writer) reopen(why string) error {
	if w.path == Stdout {
		return nil
	}
	w.closeFile()
	if err := w.open(); err != nil {
		err = fmt.Errorf("reopen action log %s: %w", w.path, err)
		w.owner.setHealth(err)
		return err
	}
	w.owner.metrics.reopens.Inc()
	w.owner.log.Info("action log reopened", "reason", why)
	return nil
}

// checkRotated reopens when the path no longer names the open file
// (logrotate renamed or removed it).
func (w *writer) checkRotated() {
	if w.path == Stdout || w.file == nil {
		return
	}
	info, err := os.Stat(w.path)
	switch {
	case err != nil && os.IsNotExist(err):
		w.reopen("file removed")
	case err == nil && !os.SameFile(info, w.info):
		w.reopen("file renamed")
	}
}
