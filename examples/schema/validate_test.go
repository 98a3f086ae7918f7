package schema_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/roomwarden/roomwarden/cmd/roomwarden/app"
	"github.com/roomwarden/roomwarden/rules"
)

// TestExamplesValidate: every example file validates against its schema.
func TestExamplesValidate(t *testing.T) {
	ruleSchema, testSchema, configSchema := compile(t, "rules"), compile(t, "tests"), compile(t, "config")
	files := glob(t, "../rules/*.yaml", "../rules/*.yml", "../../rules/testdata/valid/*.yaml")
	if len(files) < 4 {
		t.Fatalf("found %d example rule files, want the examples", len(files))
	}
	for _, path := range files {
		sch, kind := ruleSchema, "rules"
		if rules.IsTestFile(path) {
			sch, kind = testSchema, "tests"
		}
		t.Run(path, func(t *testing.T) {
			if err := validateFile(t, sch, path); err != nil {
				t.Errorf("%s schema rejects %s:\n%v", kind, path, err)
			}
		})
	}
	for _, path := range []string{"../roomwarden.yaml", "../deploy/systemd/roomwarden.yaml"} {
		t.Run(path, func(t *testing.T) {
			if err := validateFile(t, configSchema, path); err != nil {
				t.Errorf("config schema rejects %s:\n%v", path, err)
			}
		})
	}
	// The files that the Kubernetes ConfigMaps carry.
	for _, f := range configMapFiles(t, "../deploy/kubernetes/config.yaml", "../deploy/kubernetes/rules.yaml") {
		sch, kind := ruleSchema, "rules"
		if f.name == "roomwarden.yaml" {
			sch, kind = configSchema, "config"
		}
		t.Run(f.configMap+"/"+f.name, func(t *testing.T) {
			if err := validateYAML(t, sch, []byte(f.text)); err != nil {
				t.Errorf("%s schema rejects %s in %s:\n%v", kind, f.name, f.configMap, err)
			}
		})
	}
}

// configMapFile is one file of a ConfigMap's data.
type configMapFile struct{ configMap, name, text string }

// configMapFiles reads the data of the ConfigMaps in the manifests.
func configMapFiles(t *testing.T, paths ...string) []configMapFile {
	t.Helper()
	var out []configMapFile
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var cm struct {
			Kind     string
			Metadata struct{ Name string }
			Data     map[string]string
		}
		if err := yaml.Unmarshal(data, &cm); err != nil || cm.Kind != "ConfigMap" || len(cm.Data) == 0 {
			t.Fatalf("%s: want a ConfigMap with data (%v)", p, err)
		}
		for name, text := range cm.Data {
			out = append(out, configMapFile{cm.Metadata.Name, name, text})
		}
	}
	return out
}

// TestLoaderTestdata sorts the loader's own invalid corpus
// (rules/testdata/invalid): the files whose problem is structural (an
// unknown key, a wrong type, a missing key) must fail the schema; the
// rest (expression errors, duplicate names, YAML syntax) pass it, since
// only `roomwarden check` can see them. A new file in the corpus must be
// sorted here.
func TestLoaderTestdata(t *testing.T) {
	structural := []string{
		"bad_duration", "bad_rule_name", "cooldown_without_for", "empty_actions", "empty_on",
		"enabled_not_bool", "list_not_strings", "missing_actions", "missing_when", "no_flags",
		"on_not_list", "unknown_action", "unknown_field", "unknown_top_level",
		"budget_max_not_int", "budget_max_zero", "budget_missing_per", "budget_unknown_field",
		"for_without_action", "kv_bad_bucket", "kv_missing_bucket", "kv_unknown_field",
		"label_for_beside", "label_missing_member", "lock_seat_for_inside", "two_actions_one_item",
		"window_bad_duration", "window_bad_name", "window_empty_on", "window_missing_key", "window_unknown_field",
	}
	notStructural := []string{
		"block_scalar", "double_quoted", "duplicate_name", "event_field_typo", "expr_syntax",
		"folded_scalar", "forbid_not_bool", "helper_typo", "index_not_int", "literal_room_id",
		"room_id_not_string", "unknown_list", "user_field_typo", "when_not_bool",
		"two_documents", // the first document is fine; editors flag the second themselves
		// An expression's type or value, a name defined elsewhere:
		"for_constant_not_duration", "for_not_duration", "for_not_positive", "for_without_unit",
		"label_member_not_string", "label_static_list", "label_unknown_list", "unknown_window",
		"unknown_window_none_defined", "window_distinct_not_string", "window_in_action", "window_key_not_string",
		"window_name_not_literal", "window_name_not_string", "window_reads_kv_list", "window_reads_window",
		"window_when_not_bool",
	}
	notYAML := []string{"yaml_syntax", "repeated_key", "window_repeated_field"} // editors report these as YAML errors
	sch := compile(t, "rules")
	for _, path := range glob(t, "../../rules/testdata/invalid/*.yaml") {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			v, yamlErr := yamlToJSON(data)
			switch {
			case slices.Contains(notYAML, name):
				if yamlErr == nil {
					t.Errorf("%s decodes as YAML; sort it as structural or not", path)
				}
			case yamlErr != nil:
				t.Fatalf("%s: %v", path, yamlErr)
			case slices.Contains(structural, name):
				if err := sch.Validate(v); err == nil {
					t.Errorf("rules schema accepts %s; roomwarden check rejects it for its structure", path)
				}
			case slices.Contains(notStructural, name):
				if err := sch.Validate(v); err != nil {
					t.Errorf("rules schema rejects %s, whose problem only the compiler sees:\n%v", path, err)
				}
			default:
				t.Errorf("%s is new: add it to structural, notStructural or notYAML in this test", path)
			}
		})
	}
}

// broken is a file the schema must reject. loaderAccepts says why
// the loader, exceptionally, does not reject it too; empty, the test
// checks that it does.
type broken struct {
	name, yaml    string
	loaderAccepts string
}

// A rule that passes both the schema and the loader, to break one key
// at a time.
const goodRule = `
  - name: r
    on: [member.enter]
    when: event.user.flagged
    actions:
      - lock_seat: {room_id: event.room_id, index: 2, forbid_audio: true}
`

func TestRulesSchemaRejects(t *testing.T) {
	rule := func(extra string) string { return "rules:" + goodRule + "    " + extra + "\n" }
	action := func(a string) string {
		return "rules:\n  - name: r\n    on: [member.enter]\n    when: event.user.flagged\n    actions:\n      - " + a + "\n"
	}
	window := func(w string) string { return "windows:\n  w: " + w + "\n" + "rules:" + goodRule }
	cases := []broken{
		// unknown keys, at every depth
		{"unknown top-level key", "rule:" + goodRule, ""},
		{"unknown rule key", strings.Replace("rules:"+goodRule, "actions:", "actons:", 1), ""},
		{"unknown action", action("kick_user: {room_id: event.room_id}"), ""},
		{"unknown lock_seat key", action("lock_seat: {room_id: event.room_id, index: 2, forbid_audio: true, forbid_chat: true}"), ""},
		{"unknown cooldown key", rule("cooldown: {for: 1m, per: event.room_id}"), ""},
		{"unknown budget key", rule("budget: {max: 5, per: 1m, burst: 2}"), ""},
		{"unknown window key", window("{on: [user.flagged], key: event.room_id, for: 1m, every: 1m}"), ""},
		{"unknown label key", action("label: {list: watched, member: event.user.id, ttl: 1h}"), ""},
		{"unknown kv list key", "lists:\n  watched: {kv: watched_users, ttl: 1h}\n", ""},
		// wrong types
		{"rules not a list", "rules: {name: r}\n", ""},
		{"lists not a mapping", "lists: [a, b]\n", ""},
		{"on not a list", strings.Replace("rules:"+goodRule, "on: [member.enter]", "on: member.enter", 1), ""},
		{"enabled a string", rule(`enabled: "yes"`), ""},
		{"dry_run a number", rule("dry_run: 1"), ""},
		{"when a mapping", strings.Replace("rules:"+goodRule, "when: event.user.flagged", "when: {a: b}", 1), ""},
		{"when empty", strings.Replace("rules:"+goodRule, "when: event.user.flagged", `when: ""`, 1), ""},
		{"when null", strings.Replace("rules:"+goodRule, "when: event.user.flagged", "when:", 1), ""},
		{"room_id a list", action("lock_seat: {room_id: [a], index: 2, forbid_audio: true}"), ""},
		{"actions a mapping", strings.Replace("rules:"+goodRule, "      - lock_seat", "        lock_seat", 1), ""},
		{"budget max a string", rule(`budget: {max: "5", per: 1m}`), ""},
		{"budget max not whole", rule("budget: {max: 1.5, per: 1m}"), ""},
		{"budget max 0", rule("budget: {max: 0, per: 1m}"), ""},
		// missing keys
		{"rule without name", strings.Replace("rules:"+goodRule, "name: r\n    ", "", 1), ""},
		{"rule without on", strings.Replace("rules:"+goodRule, "on: [member.enter]\n    ", "", 1), ""},
		{"rule without when", strings.Replace("rules:"+goodRule, "when: event.user.flagged\n    ", "", 1), ""},
		{"rule without actions", "rules:\n  - {name: r, on: [member.enter], when: event.user.flagged}\n", ""},
		{"cooldown without for", rule("cooldown: {key: event.room_id}"), ""},
		{"budget without per", rule("budget: {max: 5}"), ""},
		{"budget without max", rule("budget: {per: 1m}"), ""},
		{"lock_seat without room_id", action("lock_seat: {index: 2, forbid_audio: true}"), ""},
		{"lock_seat without index", action("lock_seat: {room_id: event.room_id, forbid_audio: true}"), ""},
		{"lock_seat with no flag", action("lock_seat: {room_id: event.room_id, index: 2}"), ""},
		{"label without member", action("label: {list: watched}"), ""},
		{"label without list", action("label: {member: event.user.id}"), ""},
		{"window without key", window("{on: [user.flagged], for: 1m}"), ""},
		{"window without for", window("{on: [user.flagged], key: event.room_id}"), ""},
		{"window without on", window("{key: event.room_id, for: 1m}"), ""},
		{"an action item with nothing but for", action("for: 10m"), ""},
		// one action per item
		{"lock_seat and label in one item", action("lock_seat: {room_id: event.room_id, index: 2, forbid_audio: true}\n        label: {list: watched, member: event.user.id}"), ""},
		{"for beside label", action("label: {list: watched, member: event.user.id}\n        for: 1h"), ""},
		// bad values
		{"bad cooldown duration", rule("cooldown: {key: event.room_id, for: soon}"), ""},
		{"duration without a unit", rule("cooldown: {for: 60}"), ""},
		{"duration with a space", rule(`budget: {max: 5, per: "1 m"}`), ""},
		{"bad window duration", window("{on: [user.flagged], key: event.room_id, for: 1d}"), ""},
		{"empty on", strings.Replace("rules:"+goodRule, "on: [member.enter]", "on: []", 1), ""},
		{"an event type twice", strings.Replace("rules:"+goodRule, "on: [member.enter]", "on: [member.enter, member.enter]", 1), ""},
		{"empty event type", strings.Replace("rules:"+goodRule, "on: [member.enter]", `on: [""]`, 1), ""},
		{"empty actions", strings.Replace("rules:"+goodRule, "actions:\n      - lock_seat: {room_id: event.room_id, index: 2, forbid_audio: true}", "actions: []", 1), ""},
		{"rule name with a space", strings.Replace("rules:"+goodRule, "name: r", "name: mute flagged users", 1), ""},
		{"list name starting with a digit", "lists:\n  1st: [a]\n", ""},
		{"window name with a dash", "windows:\n  my-window: {on: [user.flagged], key: event.room_id, for: 1m}\n", ""},
		{"label into a bad list name", action("label: {list: my-list, member: event.user.id}"), ""},
		{"kv bucket with a dot", "lists:\n  watched: {kv: watched.users}\n", ""},
		// lists: an array or {kv: BUCKET}, nothing else
		{"list a string", "lists:\n  moderators: mod-1\n", ""},
		{"list a number", "lists:\n  moderators: 42\n", ""},
		{"list a mapping without kv", "lists:\n  moderators: {bucket: mods}\n", ""},
		{"list item a mapping", "lists:\n  moderators: [mod-1, {id: mod-2}]\n", ""},
		{"list item empty", "lists:\n  moderators: [mod-1, \"\"]\n", ""},
	}
	sch := compile(t, "rules")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := validateYAML(t, sch, []byte(tc.yaml)); err == nil {
				t.Errorf("rules schema accepts:\n%s", tc.yaml)
			}
			if tc.loaderAccepts == "" {
				path := writeFile(t, "rules.yaml", tc.yaml)
				if _, err := rules.Load(path); err == nil {
					t.Errorf("roomwarden check accepts what the schema rejects:\n%s", tc.yaml)
				}
			}
		})
	}
}

// accepted is a file the schema must accept. stage2 marks formats of
// the second stage that the loader does not read yet; the others the
// loader must accept too.
type accepted struct {
	name, yaml string
	stage2     bool
}

func TestRulesSchemaAccepts(t *testing.T) {
	cases := []accepted{
		{"the rule the rejected cases break", "rules:" + goodRule, false},
		{"empty file", "", false},
		{"empty sections", "lists:\nrules:\n", false},
		{"a null list", "lists:\n  later:\n", false},
		{"numeric members", "lists:\n  moderators: [10001, mod-2]\n", false},
		{"literal expressions", "rules:\n  - name: r.1_x\n    on: [member.enter]\n    when: true\n    enabled: false\n    dry_run: true\n" +
			"    actions:\n      - lock_seat: {room_id: '\"room-1\"', index: 2, forbid_taken: true, forbid_video: false, forbid_audio: 1 > 0}\n" +
			"    cooldown: {for: 1h30m}\n", false},
		{"second stage: every new key", `
lists:
  moderators: [mod-1]
  watched: {kv: watched_users}
windows:
  reports:
    on: [user.flagged]
    when: event.user.score >= 0.5
    key: event.room_id + "/" + event.user.id
    for: 1m
    distinct: attr_string("reporter")
rules:
  - name: lock-after-three-reporters
    on: [user.flagged]
    when: window("reports") >= 3
    actions:
      - lock_seat: {room_id: event.room_id, index: event.seat.index, forbid_audio: true}
        for: 10m
      - lock_seat: {room_id: event.room_id, index: event.seat.index, forbid_video: true}
        for: 'window("reports") > 5 ? "1h" : "5m"'
      - label: {list: watched, member: event.user.id, for: 24h}
      - label: {list: watched, member: event.user.id}
    budget: {max: 50, per: 1m}
`, true},
	}
	sch := compile(t, "rules")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := validateYAML(t, sch, []byte(tc.yaml)); err != nil {
				t.Errorf("rules schema rejects:\n%s\n%v", tc.yaml, err)
			}
			if !tc.stage2 {
				if _, err := rules.Load(writeFile(t, "rules.yaml", tc.yaml)); err != nil {
					t.Errorf("roomwarden check rejects what the schema accepts: %v\n%s", err, tc.yaml)
				}
			}
		})
	}
}

// goodTest is a test case that passes both the schema and the loader.
const goodTest = `
  - name: t
    events:
      - {type: member.enter, room_id: room-1, user: {id: u1, flagged: true}, at: 0s}
    expect:
      - {rule: r, lock_seat: {room_id: room-1, index: 2, forbid_audio: true}}
`

func TestTestsSchemaRejects(t *testing.T) {
	event := func(e string) string {
		return "tests:\n  - name: t\n    events:\n      - " + e + "\n    expect: []\n"
	}
	expect := func(e string) string {
		return "tests:\n  - name: t\n    events:\n      - {type: member.enter}\n    expect:\n      - " + e + "\n"
	}
	const stricter = "second stage: the schema requires what the loader will"
	cases := []broken{
		{"no tests key", "test:" + goodTest, ""},
		{"unknown case key", strings.Replace("tests:"+goodTest, "events:", "evnets:", 1), ""},
		{"unknown event key", event("{type: member.enter, usr: {id: u1}}"), ""},
		{"unknown user key", event("{type: member.enter, user: {id: u1, flaged: true}}"), ""},
		{"unknown seat key", event("{type: seat.taken, seat: {idx: 1}}"), ""},
		{"unknown expectation key", expect("{rule: r, lock_seat: {room_id: a, index: 1, forbid_audio: true}, note: x}"), ""},
		{"unknown lock_seat key", expect("{rule: r, lock_seat: {room_id: a, index: 1, forbid_chat: true}}"), ""},
		{"case without name", strings.Replace("tests:"+goodTest, "name: t", "start: 2026-01-01T00:00:00Z", 1), ""},
		{"case without events", "tests:\n  - {name: t, expect: []}\n", ""},
		{"case without expect", "tests:\n  - name: t\n    events: [{type: member.enter}]\n", ""},
		{"expect null", "tests:\n  - name: t\n    events: [{type: member.enter}]\n    expect:\n", ""},
		{"events a mapping", "tests:\n  - name: t\n    events: {type: member.enter}\n    expect: []\n", ""},
		{"both at and time", event("{type: member.enter, at: 5s, time: 2026-01-01T00:00:05Z}"), ""},
		{"a clock step with both", event("{at: 5s, time: 2026-01-01T00:00:05Z}"), "second stage: clock steps"},
		{"an empty item", event("{}"), ""},
		{"an item with no type", event("{room_id: room-1, at: 5s}"), ""},
		{"at not a duration", event("{type: member.enter, at: soon}"), ""},
		{"at negative", event("{type: member.enter, at: -5s}"), ""},
		{"time not a time", event("{type: member.enter, time: yesterday}"), ""},
		{"start a date only", strings.Replace("tests:"+goodTest, "name: t", "name: t\n    start: 2026-01-01", 1), ""},
		{"score a string", event("{type: member.enter, user: {score: high}}"), ""},
		{"flagged a string", event(`{type: member.enter, user: {flagged: "yes"}}`), ""},
		{"seat index not whole", event("{type: seat.taken, seat: {index: 1.5}}"), ""},
		{"labels a string", event("{type: member.enter, user: {labels: spam}}"), ""},
		{"attrs a list", event("{type: member.enter, attrs: [a]}"), ""},
		{"expectation without rule", expect("{lock_seat: {room_id: a, index: 1, forbid_audio: true}}"), ""},
		{"expectation without an action", expect("{rule: r}"), ""},
		{"two actions in one expectation", expect("{rule: r, lock_seat: {room_id: a, index: 1, forbid_audio: true}, unlock_seat: {room_id: a, index: 1, forbid_audio: true}}"), ""},
		{"unknown outcome", expect("{rule: r, outcome: dry_run, lock_seat: {room_id: a, index: 1, forbid_audio: true}}"), ""},
		{"for beside unlock_seat", expect("{rule: r, unlock_seat: {room_id: a, index: 1, forbid_audio: true}, for: 10m}"), ""},
		{"expected index a string", expect(`{rule: r, lock_seat: {room_id: a, index: "1", forbid_audio: true}}`), ""},
		{"expected flag a string", expect(`{rule: r, lock_seat: {room_id: a, index: 1, forbid_audio: "true"}}`), ""},
		{"expected lock_seat without index", expect("{rule: r, lock_seat: {room_id: a, forbid_audio: true}}"), stricter},
		{"expected lock_seat without room_id", expect("{rule: r, lock_seat: {index: 1, forbid_audio: true}}"), stricter},
		{"expected label without member", expect("{rule: r, label: {list: watched}}"), ""},
		{"lists with a bad name", strings.Replace("tests:"+goodTest, "name: t", "name: t\n    lists: {my-list: [a]}", 1), ""},
		{"lists member a mapping", strings.Replace("tests:"+goodTest, "name: t", "name: t\n    lists: {watched: [{id: a}]}", 1), ""},
	}
	sch := compile(t, "tests")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := validateYAML(t, sch, []byte(tc.yaml)); err == nil {
				t.Errorf("tests schema accepts:\n%s", tc.yaml)
			}
			if tc.loaderAccepts == "" {
				if _, err := rules.ParseTests("case_test.yaml", []byte(tc.yaml)); err == nil {
					t.Errorf("roomwarden test accepts what the schema rejects:\n%s", tc.yaml)
				}
			}
		})
	}
}

func TestTestsSchemaAccepts(t *testing.T) {
	cases := []accepted{
		{"first stage", "tests:" + goodTest, false},
		{"every event field", `
tests:
  - name: all
    start: 2026-11-25T21:00:00Z
    events:
      - id: e1
        type: seat.changed
        room_id: 12345
        user: {id: 10001, flagged: false, labels: [spam], score: 1}
        seat: {index: 0, user_id: u1, taken_disabled: true, video_disabled: false, audio_disabled: true}
        seats: [{index: 1}, {index: 2, user_id: u2}]
        attrs: {operator: mod-1, n: 3}
        time: "2026-11-25T21:00:01.5+08:00"
      - {type: member.enter, at: 0}
    expect: []
`, false},
		{"second stage: clock steps, outcomes, unlocks, labels", `
tests:
  - name: a lock ends after ten minutes
    lists: {watched: [u7]}
    events:
      - {type: user.flagged, room_id: room-1, user: {id: u1}, seat: {index: 3}}
      - {at: 10m}
      - {time: 2026-01-01T01:00:00Z}
    expect:
      - {rule: r, lock_seat: {room_id: room-1, index: 3, forbid_audio: true}, for: 10m}
      - {rule: r, at: 10m, unlock_seat: {room_id: room-1, index: 3, forbid_audio: true}}
      - {rule: r, outcome: tripped, lock_seat: {room_id: room-1, index: 3, forbid_audio: true}}
      - {rule: r, label: {list: watched, member: u1}}
`, true},
	}
	sch := compile(t, "tests")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := validateYAML(t, sch, []byte(tc.yaml)); err != nil {
				t.Errorf("tests schema rejects:\n%s\n%v", tc.yaml, err)
			}
			if !tc.stage2 {
				if _, err := rules.ParseTests("case_test.yaml", []byte(tc.yaml)); err != nil {
					t.Errorf("roomwarden test rejects what the schema accepts: %v\n%s", err, tc.yaml)
				}
			}
		})
	}
}

func TestConfigSchemaRejects(t *testing.T) {
	cases := []broken{
		{"unknown top-level key", "nat: {url: nats://a:4222}\n", ""},
		{"unknown nats key", "nats: {embeded: {listen: 127.0.0.1:4222}}\n", ""},
		{"unknown embedded key", "nats: {embedded: {port: 4222}}\n", ""},
		{"unknown consumer key", "nats: {consumer: {ackwait: 30s}}\n", ""},
		{"unknown roomengine key", "roomengine: {secret: abc}\n", ""},
		{"unknown http key", "http: {tokenenv: T}\n", ""},
		{"unknown state key", "state: {replica: 3}\n", ""},
		{"unknown overrides key", "overrides: {holds: 30m}\n", ""},
		{"rate a string", `executor: {rate_per_second: "200"}` + "\n", ""},
		{"rate over the API's limit", "executor: {rate_per_second: 500}\n", ""},
		{"dry_run a string", `dry_run: "false"` + "\n", ""},
		{"subjects a string", "nats: {subjects: rooms.events.>}\n", ""},
		{"subjects empty", "nats: {subjects: []}\n", ""},
		{"backoff without units", "nats: {consumer: {backoff: [30, 60]}}\n", ""},
		{"pprof a string", "http: {pprof: \"maybe\"}\n", ""},
		{"pprof yes", "http: {pprof: yes}\n", "yaml.v3 reads YAML 1.1's yes/no/on/off into a bool field; the schema asks for true or false, as YAML 1.2 editors do"},
		{"sdkappid a string", "roomengine: {sdkappid: \"1400000000\"}\n", ""},
		{"max_keys not whole", "cooldowns: {max_keys: 1.5}\n", "yaml.v3 truncates 1.5 to 1 in an int field"},
		{"section a list", "nats: [a]\n", ""},
		{"shutdown_timeout without a unit", "shutdown_timeout: 10\n", ""},
		{"usersig_ttl in days", "roomengine: {usersig_ttl: 1d}\n", ""},
		{"stream name with a dot", "nats: {stream: room.events}\n", ""},
		{"state replicas 7", "state: {replicas: 7}\n", ""},
		{"state replicas 0", "state: {replicas: 0}\n", ""},
		{"overrides hold not a duration", "overrides: {hold: soon}\n", ""},
	}
	sch := compile(t, "config")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := validateYAML(t, sch, []byte(tc.yaml)); err == nil {
				t.Errorf("config schema accepts:\n%s", tc.yaml)
			}
			if tc.loaderAccepts == "" {
				// Over a valid base, so that Validate fails only for what the case breaks.
				cfg, err := app.LoadConfig(writeFile(t, "roomwarden.yaml", tc.yaml))
				if err == nil {
					cfg.DryRun = true
					cfg.RoomEngine.SDKAppID = max(cfg.RoomEngine.SDKAppID, 1)
					err = cfg.Validate()
				}
				if err == nil {
					t.Errorf("roomwarden run accepts what the schema rejects:\n%s", tc.yaml)
				}
			}
		})
	}
}

func TestConfigSchemaAccepts(t *testing.T) {
	cases := []accepted{
		{"empty", "", false},
		{"empty sections", "nats:\nrules:\nhttp:\n", false},
		{"zero durations", "nats: {stream_max_age: 0}\nshutdown_timeout: 1m30s\n", false},
		{"zero duration as text", `nats: {stream_max_age: "0"}` + "\n", false},
		{"second stage keys", "rules: {dir: rules, shadow_dir: candidates}\nstate: {replicas: 3, bucket: ROOMWARDEN_STATE, undo_stream: ROOMWARDEN_UNDO}\noverrides: {hold: 30m}\n", true},
	}
	sch := compile(t, "config")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := validateYAML(t, sch, []byte(tc.yaml)); err != nil {
				t.Errorf("config schema rejects:\n%s\n%v", tc.yaml, err)
			}
			if !tc.stage2 {
				if _, err := app.LoadConfig(writeFile(t, "roomwarden.yaml", tc.yaml)); err != nil {
					t.Errorf("roomwarden run rejects what the schema accepts: %v\n%s", err, tc.yaml)
				}
			}
		})
	}
}

// glob returns the files matching any of the patterns, sorted.
func glob(t *testing.T, patterns ...string) []string {
	t.Helper()
	var out []string
	for _, p := range patterns {
		m, err := filepath.Glob(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m...)
	}
	slices.Sort(out)
	return out
}

// writeFile writes data to a new file called name and returns its path.
func writeFile(t *testing.T, name, data string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
