package replay

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// Labels are people's verdicts on events, by event id: true for
// abusive, false for benign. They are held in memory, one entry per
// labelled event.
type Labels map[string]bool

// The two verdicts a labels file may give.
const (
	LabelAbusive = "abusive"
	LabelBenign  = "benign"
)

// maxLabelLine bounds one line of a labels file.
const maxLabelLine = 1 << 20

// labelLine is one line of a labels file; other fields are ignored.
type labelLine struct {
	EventID *string `json:"event_id"`
	Label   *string `json:"label"`
}

// LoadLabels reads a labels file: JSON lines of
// {"event_id": "…", "label": "abusive" | "benign"}. Blank lines are
// skipped. An error names the file and line.
func LoadLabels(path string) (Labels, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("labels: %w", err)
	}
	defer f.Close()
	return ReadLabels(f, path)
}

// ReadLabels reads labels from r, naming it name in errors
// (name:line: message). An event labelled twice must be labelled the
// same way.
func ReadLabels(r io.Reader, name string) (Labels, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), maxLabelLine)
	labels := make(Labels)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		id, abusive, err := parseLabel(line)
		if err == nil {
			err = labels.add(id, abusive)
		}
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("a line is longer than %d bytes", maxLabelLine)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return labels, nil
}

// parseLabel reads one non-blank line.
func parseLabel(line []byte) (id string, abusive bool, err error) {
	var l labelLine
	if err := json.Unmarshal(line, &l); err != nil {
		return "", false, fmt.Errorf(`not a JSON object {"event_id": "…", "label": "abusive" | "benign"}: %w`, err)
	}
	switch {
	case l.EventID == nil || *l.EventID == "":
		return "", false, errors.New(`missing "event_id"`)
	case l.Label == nil:
		return "", false, errors.New(`missing "label"`)
	case *l.Label != LabelAbusive && *l.Label != LabelBenign:
		return "", false, fmt.Errorf(`label %q: want "abusive" or "benign"`, *l.Label)
	}
	return *l.EventID, *l.Label == LabelAbusive, nil
}

// add records one label.
func (ls Labels) add(id string, abusive bool) error {
	if old, ok := ls[id]; ok && old != abusive {
		return fmt.Errorf("event %q is labelled %s here and %s on an earlier line", id, verdict(abusive), verdict(old))
	}
	ls[id] = abusive
	return nil
}

func verdict(abusive bool) string {
	if abusive {
		return LabelAbusive
	}
	return LabelBenign
}
