package rules

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"
)

// A reload must not swap in a file caught half-written: `cat >` and
// editors that save in place truncate the file, then write it, maybe in
// pieces, and a read in between is a valid file with fewer rules, or
// none. So a reload reads the directory until two reads settleInterval
// apart agree on every file's path, contents, size and modification
// time, and gives up after maxSettle with "rules directory still
// changing", keeping the previous set; the change that ends the writes
// triggers the next reload.
//
// Two reads can still agree on a file left empty for a while between
// its truncation and its write. So the rule is: a new set in which a
// file that the set in use has rules from has none (it is empty, holds
// no rules, or is gone) is swapped in only by a reload that reads the
// directory exactly as a reload did at least one recheck period
// (WatcherConfig.Recheck) before: same contents, sizes and modification
// times, so nothing was written in between. Until then each reload
// keeps the previous set and says why in ReloadResult.Pending (not a
// failure: deleting a file on purpose looks the same); the periodic
// recheck confirms it.
const (
	settleInterval = 100 * time.Millisecond
	maxSettle      = 2 * time.Second
)

// snapshot is one read of the rules directory.
type snapshot struct {
	srcs        []Source
	hash        string // of paths and contents, as Set.Hash
	fingerprint string // hash, with each file's size and modification time
	at          time.Time
}

// read reads the rules directory once.
func (w *Watcher) read() (snapshot, error) {
	at := time.Now()
	srcs, err := ReadSources(w.dir)
	if err != nil {
		return snapshot{}, fmt.Errorf("read rules: %w", err)
	}
	hash := hashSources(srcs)
	return snapshot{srcs: srcs, hash: hash, fingerprint: fingerprint(hash, srcs), at: at}, nil
}

// fingerprint adds to the contents' hash the size and modification time
// of each file after it was read, so that a file rewritten between two
// reads does not read the same even if the two reads caught the same
// bytes.
func fingerprint(hash string, srcs []Source) string {
	h := sha256.New()
	h.Write([]byte(hash))
	for _, src := range srcs {
		info, err := os.Stat(src.Path)
		if err != nil {
			fmt.Fprintf(h, "%s gone\n", src.Path)
			continue
		}
		fmt.Fprintf(h, "%s %d %d\n", src.Path, info.Size(), info.ModTime().UnixNano())
	}
	return hex.EncodeToString(h.Sum(nil))
}

// settle reads the directory again until it has read the same for at
// least stable, starting from the read prev.
func (w *Watcher) settle(prev snapshot, stable time.Duration, stop <-chan struct{}) (snapshot, error) {
	deadline := time.Now().Add(maxSettle + stable)
	since := prev.at
	for {
		if err := sleep(settleInterval, stop); err != nil {
			return snapshot{}, err
		}
		next, err := w.read()
		if err != nil {
			return snapshot{}, err
		}
		if next.fingerprint != prev.fingerprint {
			since = next.at
		} else if next.at.Sub(since) >= stable {
			return next, nil
		}
		prev = next
		if next.at.After(deadline) {
			return snapshot{}, fmt.Errorf("rules directory still changing after %v; reload once the files are saved", maxSettle+stable)
		}
	}
}

// lossSighting is the first read of the directory whose set lost all
// the rules of a file.
type lossSighting struct {
	fingerprint string
	at          time.Time
}

// confirmLoss returns "" if next may replace cur: next loses no file's
// every rule, or the directory read the same a recheck period ago;
// otherwise why next is held back.
func (w *Watcher) confirmLoss(cur, next *Set, snap snapshot) string {
	lost := lostRules(cur, next)
	if lost == "" {
		w.loss = lossSighting{}
		return ""
	}
	if w.loss.fingerprint != snap.fingerprint {
		w.loss = lossSighting{fingerprint: snap.fingerprint, at: snap.at}
	}
	if snap.at.Sub(w.loss.at) < w.recheckEvery {
		return fmt.Sprintf("%s; that is applied once the files have stayed unchanged for %v", lost, w.recheckEvery)
	}
	w.loss = lossSighting{}
	return ""
}

// lostRules names the first file of cur whose every rule is missing
// from next, or returns "".
func lostRules(cur, next *Set) string {
	had, has := rulesPerFile(cur), rulesPerFile(next)
	for _, f := range cur.Files() {
		if had[f] > 0 && has[f] == 0 {
			return fmt.Sprintf("%s lost all its rules (%d)", f, had[f])
		}
	}
	return ""
}

func rulesPerFile(s *Set) map[string]int {
	n := make(map[string]int)
	for _, r := range s.Rules() {
		n[r.File]++
	}
	return n
}

// errStopped abandons a reload when the watcher stops.
var errStopped = errors.New("reload abandoned: the watcher is stopping")

// sleep waits for d, or fails when stop is closed.
func sleep(d time.Duration, stop <-chan struct{}) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-stop:
		return errStopped
	}
}
