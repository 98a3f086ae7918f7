package replay

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteText writes the report for people: a summary, an aligned table
// of the rules, and the ids of events that act in one set only.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	r.summary(&b)
	if r.Events > 0 {
		b.WriteString("\n")
		r.table(&b)
		r.samples(&b, "only the candidate acts on", func(rr RuleReport) ([]string, int) {
			return rr.OnlyCandidate, rr.OnlyCandidateCount
		})
		r.samples(&b, "only the baseline acts on", func(rr RuleReport) ([]string, int) {
			return rr.OnlyBaseline, rr.OnlyBaselineCount
		})
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// summary writes what was replayed, and what was not.
func (r *Report) summary(b *strings.Builder) {
	if r.Partial {
		b.WriteString("PARTIAL: the replay was stopped before the end of the range; these are the events replayed until then.\n")
	}
	if r.Events == 0 {
		fmt.Fprintf(b, "no events to replay %s\n", r.rangeText())
	} else {
		fmt.Fprintf(b, "replayed %s from %s until %s\n", plural(r.Events, "event"), stamp(r.From), stamp(r.Until))
	}
	if r.Malformed > 0 {
		fmt.Fprintf(b, "%s could not be decoded and %s skipped; the first: %s\n", plural(r.Malformed, "message"),
			were(r.Malformed), r.FirstMalformed)
	}
	if r.Outside > 0 {
		fmt.Fprintf(b, "%s stored in the range but timed outside it %s not replayed\n", plural(r.Outside, "event"), were(r.Outside))
	}
	if r.WindowErrors > 0 {
		fmt.Fprintf(b, "windows failed %s on events, which they did not count\n", plural(r.WindowErrors, "time"))
	}
	if r.CooldownOverflows > 0 {
		fmt.Fprintf(b, "the cooldown table was full %s (cooldowns.max_keys): those actions counted as run\n",
			plural(r.CooldownOverflows, "time"))
	}
}

// rangeText says which range held no event, and what the stream holds.
func (r *Report) rangeText() string {
	var s string
	switch {
	case !r.From.IsZero() && !r.Until.IsZero():
		s = fmt.Sprintf("from %s until %s", stamp(r.From), stamp(r.Until))
	case !r.From.IsZero():
		s = "from " + stamp(r.From)
	case !r.Until.IsZero():
		s = "until " + stamp(r.Until)
	default:
		s = "in the stream"
	}
	if r.Stream.LastSeq == 0 || r.Stream.LastSeq < r.Stream.FirstSeq {
		return s + ": the stream is empty"
	}
	return fmt.Sprintf("%s: the stream holds messages stored from %s until %s (sequences %d to %d)", s,
		stamp(r.Stream.FirstTime), stamp(r.Stream.LastTime), r.Stream.FirstSeq, r.Stream.LastSeq)
}

// table writes one row per rule, with the columns that apply.
func (r *Report) table(b *strings.Builder) {
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	head := []string{"RULE", "MATCHED", "ACTIONS", "SUPPRESSED"}
	if r.Baseline {
		head = append(head, "BASELINE", "ONLY CANDIDATE", "ONLY BASELINE")
	}
	if r.Labeled {
		head = append(head, "PRECISION", "RECALL")
	}
	withNotes := slices.ContainsFunc(r.Rules, func(rr RuleReport) bool { return notes(rr) != "" })
	if withNotes {
		head = append(head, "NOTES")
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, rr := range r.Rules {
		row := r.row(rr)
		if withNotes {
			row = append(row, notes(rr))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	_ = tw.Flush()
}

// row is a rule's figures in the table's columns, notes aside.
func (r *Report) row(rr RuleReport) []string {
	row := []string{rr.Rule, "-", "-", "-"}
	if rr.InCandidate {
		row = append(row[:1], num(rr.Matched), num(rr.Actions), num(rr.Suppressed))
	}
	if r.Baseline {
		base := "-"
		if rr.InBaseline {
			base = num(rr.BaselineActions)
		}
		row = append(row, base, num(rr.OnlyCandidateCount), num(rr.OnlyBaselineCount))
	}
	if r.Labeled {
		row = append(row, score(rr.Precision), score(rr.Recall))
	}
	return row
}

// notes lists the counts that are usually zero, and which set a rule
// is missing from.
func notes(rr RuleReport) string {
	var ns []string
	if !rr.InCandidate {
		ns = append(ns, "baseline only")
	}
	for _, n := range []struct {
		n    int
		what string
	}{{rr.Overridden, "overridden"}, {rr.Tripped, "tripped"}, {rr.Failed, "failed"}, {rr.Errors, "errors"}} {
		if n.n > 0 {
			ns = append(ns, num(n.n)+" "+n.what)
		}
	}
	return strings.Join(ns, ", ")
}

// samples lists, per rule, the event ids that act in one set only.
func (r *Report) samples(b *strings.Builder, title string, get func(RuleReport) ([]string, int)) {
	first := true
	for _, rr := range r.Rules {
		ids, n := get(rr)
		if n == 0 {
			continue
		}
		if first {
			fmt.Fprintf(b, "\n%s:\n", title)
			first = false
		}
		fmt.Fprintf(b, "  %s: %s", rr.Rule, strings.Join(ids, " "))
		if more := n - len(ids); more > 0 {
			fmt.Fprintf(b, " (and %d more)", more)
		}
		b.WriteString("\n")
	}
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func score(f *float64) string {
	if f == nil {
		return "-"
	}
	return strconv.FormatFloat(*f, 'f', 3, 64)
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return num(n) + " " + word + "s"
}

func were(n int) string {
	if n == 1 {
		return "was"
	}
	return "were"
}

// num writes n with thousands separators.
func num(n int) string {
	s := strconv.Itoa(n)
	if n < 0 || len(s) <= 3 {
		return s
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
