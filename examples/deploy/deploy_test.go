// Package deploy_test checks the deployment examples: the systemd unit
// and its config, and the Kubernetes manifests. The configs they carry
// must load and validate as `roomwarden run` would load them, and the
// unit and manifests must agree with them (ports, paths, timeouts).
package deploy_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/roomwarden/roomwarden/cmd/roomwarden/app"
	"github.com/roomwarden/roomwarden/rules"
)

// object is one Kubernetes object, decoded as it is written.
type object = map[string]any

// manifest is an object and the file it is in.
type manifest struct {
	file string
	obj  object
}

// manifests reads every YAML document in kubernetes/.
func manifests(t *testing.T) []manifest {
	t.Helper()
	files, err := filepath.Glob("kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in kubernetes/ (%v)", err)
	}
	var out []manifest
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var o object
			err := dec.Decode(&o)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if o != nil {
				out = append(out, manifest{f, o})
			}
		}
	}
	return out
}

// find returns the object of that kind and name.
func find(t *testing.T, ms []manifest, kind, name string) object {
	t.Helper()
	for _, m := range ms {
		if m.obj["kind"] == kind && get(m.obj, "metadata", "name") == name {
			return m.obj
		}
	}
	t.Fatalf("no %s %q in kubernetes/", kind, name)
	return nil
}

// get digs into decoded YAML: string keys for mappings, ints for lists.
// It returns nil where the path does not lead.
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

// named returns the item of a list of mappings whose name is name.
func named(list any, name string) object {
	l, _ := list.([]any)
	for _, it := range l {
		if m, ok := it.(map[string]any); ok && m["name"] == name {
			return m
		}
	}
	return nil
}

func TestManifestsParse(t *testing.T) {
	ms := manifests(t)
	seen := map[string]string{}
	for _, m := range ms {
		api, _ := m.obj["apiVersion"].(string)
		kind, _ := m.obj["kind"].(string)
		name, _ := get(m.obj, "metadata", "name").(string)
		if api == "" || kind == "" || name == "" {
			t.Errorf("%s: a document without apiVersion, kind or metadata.name: %v", m.file, m.obj)
			continue
		}
		if ns := get(m.obj, "metadata", "namespace"); ns != nil {
			t.Errorf("%s: %s %s sets namespace %v; the manifests are namespace-free (kubectl -n picks one)", m.file, kind, name, ns)
		}
		if prev, dup := seen[kind+"/"+name]; dup {
			t.Errorf("%s %s is in both %s and %s", kind, name, prev, m.file)
		}
		seen[kind+"/"+name] = m.file
	}
	for _, want := range []string{"v1 ConfigMap roomwarden-config", "v1 ConfigMap roomwarden-rules", "v1 Secret roomwarden",
		"apps/v1 Deployment roomwarden", "v1 Service roomwarden", "monitoring.coreos.com/v1 PodMonitor roomwarden",
		"policy/v1 PodDisruptionBudget roomwarden"} {
		f := strings.Fields(want)
		if o := find(t, ms, f[1], f[2]); o["apiVersion"] != f[0] {
			t.Errorf("%s %s: apiVersion %v, want %s", f[1], f[2], o["apiVersion"], f[0])
		}
	}
}

// kubeConfig loads the config in the roomwarden-config ConfigMap as
// `roomwarden run --config` would, and validates it.
func kubeConfig(t *testing.T, ms []manifest) *app.Config {
	t.Helper()
	text, _ := get(find(t, ms, "ConfigMap", "roomwarden-config"), "data", "roomwarden.yaml").(string)
	if text == "" {
		t.Fatal("ConfigMap roomwarden-config has no data.roomwarden.yaml")
	}
	return loadConfig(t, writeTemp(t, "roomwarden.yaml", text))
}

func loadConfig(t *testing.T, path string) *app.Config {
	t.Helper()
	cfg, err := app.LoadConfig(path)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	return cfg
}

func TestKubernetesConfig(t *testing.T) {
	cfg := kubeConfig(t, manifests(t))
	if cfg.NATS.URL == "" {
		t.Error("nats.url is empty: replicas need a shared NATS cluster, not each its own embedded server")
	}
	if host, _, _ := net.SplitHostPort(cfg.HTTP.Listen); host != "0.0.0.0" || cfg.HTTP.TokenEnv == "" {
		t.Errorf("http: listen %q, token_env %q; want 0.0.0.0 (probes and Prometheus come from outside the pod) and a token", cfg.HTTP.Listen, cfg.HTTP.TokenEnv)
	}
	if cfg.ActionLog.Path != "-" {
		t.Errorf("action_log.path = %q, want - (the root filesystem is read-only)", cfg.ActionLog.Path)
	}
	if cfg.RoomEngine.SecretKeyFile == "" || cfg.RoomEngine.SecretKeyEnv != "" {
		t.Errorf("roomengine: secret_key_file %q, secret_key_env %q; want the key from the Secret's file", cfg.RoomEngine.SecretKeyFile, cfg.RoomEngine.SecretKeyEnv)
	}
}

func TestDeployment(t *testing.T) {
	ms := manifests(t)
	cfg := kubeConfig(t, ms)
	d := find(t, ms, "Deployment", "roomwarden")
	pod := get(d, "spec", "template", "spec")
	c, _ := get(pod, "containers", 0).(map[string]any)
	if c == nil {
		t.Fatal("the Deployment has no container")
	}
	if r := get(d, "spec", "replicas"); r != 3 {
		t.Errorf("replicas = %v, want 3", r)
	}
	if grace, _ := get(pod, "terminationGracePeriodSeconds").(int); time.Duration(grace)*time.Second <= cfg.ShutdownTimeout.Duration() {
		t.Errorf("terminationGracePeriodSeconds = %d, want more than shutdown_timeout %s", grace, cfg.ShutdownTimeout.Duration())
	}

	_, port, _ := net.SplitHostPort(cfg.HTTP.Listen)
	for probe, path := range map[string]string{"readinessProbe": "/readyz", "livenessProbe": "/healthz"} {
		if got := get(c, probe, "httpGet", "path"); got != path {
			t.Errorf("%s path = %v, want %s", probe, got, path)
		}
		if got := containerPort(c, get(c, probe, "httpGet", "port")); got != port {
			t.Errorf("%s port = %s, want http.listen's %s", probe, got, port)
		}
	}

	for _, check := range []struct {
		what string
		got  any
		want any
	}{
		{"pod runAsNonRoot", get(pod, "securityContext", "runAsNonRoot"), true},
		{"readOnlyRootFilesystem", get(c, "securityContext", "readOnlyRootFilesystem"), true},
		{"allowPrivilegeEscalation", get(c, "securityContext", "allowPrivilegeEscalation"), false},
		{"capabilities.drop", fmt.Sprint(get(c, "securityContext", "capabilities", "drop")), "[ALL]"},
	} {
		if check.got != check.want {
			t.Errorf("%s = %v, want %v", check.what, check.got, check.want)
		}
	}
	for _, r := range []string{"requests", "limits"} {
		if get(c, "resources", r, "memory") == nil {
			t.Errorf("resources.%s.memory not set", r)
		}
	}

	// --config names a file of the mounted config ConfigMap.
	args := fmt.Sprint(get(c, "args"))
	configPath := mountedFile(t, c, pod, "configMap", "roomwarden-config", "roomwarden.yaml")
	if !strings.Contains(args, "--config "+configPath) {
		t.Errorf("args %s do not pass --config %s", args, configPath)
	}
	// rules.dir is the rules ConfigMap, mounted whole: with subPath no
	// update would ever arrive.
	rulesMount := mountOf(t, c, pod, "configMap", "roomwarden-rules")
	if get(rulesMount, "mountPath") != cfg.Rules.Dir || get(rulesMount, "subPath") != nil {
		t.Errorf("rules mount %v: want mountPath %s and no subPath", rulesMount, cfg.Rules.Dir)
	}
	// secret_key_file is the Secret's key, mode 0400.
	if got := mountedFile(t, c, pod, "secret", "roomwarden", "secret_key"); got != cfg.RoomEngine.SecretKeyFile {
		t.Errorf("the secret_key file is mounted at %s, roomengine.secret_key_file is %s", got, cfg.RoomEngine.SecretKeyFile)
	}
	vol := volumeOf(pod, "secret", "roomwarden")
	if mode := get(vol, "secret", "defaultMode"); mode != 0o400 {
		t.Errorf("secret defaultMode = %v, want 0400", mode)
	}
	// The token env var comes from the Secret.
	env := named(get(c, "env"), cfg.HTTP.TokenEnv)
	ref := get(env, "valueFrom", "secretKeyRef")
	if ref == nil || get(ref, "name") != "roomwarden" {
		t.Fatalf("env %s (http.token_env) is not from the roomwarden Secret: %v", cfg.HTTP.TokenEnv, env)
	}
	secret := find(t, ms, "Secret", "roomwarden")
	for _, key := range []any{get(ref, "key"), "secret_key"} {
		if v, _ := get(secret, "stringData", key.(string)).(string); !strings.Contains(v, "REPLACE-ME") {
			t.Errorf("Secret roomwarden stringData.%s = %q: want a placeholder marked REPLACE-ME", key, v)
		}
	}
}

// containerPort resolves a probe's port (a number or a port name) to
// the container port number.
func containerPort(c object, port any) string {
	if name, ok := port.(string); ok {
		port = get(named(c["ports"], name), "containerPort")
	}
	return fmt.Sprint(port)
}

// volumeOf returns the pod volume of that source kind and name.
func volumeOf(pod any, source, name string) object {
	nameKey := map[string]string{"configMap": "name", "secret": "secretName"}[source]
	for _, v := range get(pod, "volumes").([]any) {
		if get(v, source, nameKey) == name {
			return v.(map[string]any)
		}
	}
	return nil
}

// mountOf returns the container's mount of that volume source.
func mountOf(t *testing.T, c object, pod any, source, name string) object {
	t.Helper()
	vol := volumeOf(pod, source, name)
	if vol == nil {
		t.Fatalf("no volume of %s %s", source, name)
	}
	m := named(c["volumeMounts"], vol["name"].(string))
	if m == nil {
		t.Fatalf("volume %v is not mounted", vol["name"])
	}
	return m
}

// mountedFile is where the container sees key of the mounted source.
func mountedFile(t *testing.T, c object, pod any, source, name, key string) string {
	t.Helper()
	m := mountOf(t, c, pod, source, name)
	return filepath.Join(m["mountPath"].(string), key)
}

func TestSelectors(t *testing.T) {
	ms := manifests(t)
	labels := get(find(t, ms, "Deployment", "roomwarden"), "spec", "template", "metadata", "labels")
	for _, s := range []struct {
		kind string
		sel  any
	}{
		{"Deployment", get(find(t, ms, "Deployment", "roomwarden"), "spec", "selector", "matchLabels")},
		{"Service", get(find(t, ms, "Service", "roomwarden"), "spec", "selector")},
		{"PodMonitor", get(find(t, ms, "PodMonitor", "roomwarden"), "spec", "selector", "matchLabels")},
		{"PodDisruptionBudget", get(find(t, ms, "PodDisruptionBudget", "roomwarden"), "spec", "selector", "matchLabels")},
	} {
		sel, _ := s.sel.(map[string]any)
		if len(sel) == 0 {
			t.Errorf("%s has no selector", s.kind)
		}
		for k, v := range sel {
			if get(labels, k) != v {
				t.Errorf("%s selects %s=%v; the pods are labelled %v", s.kind, k, v, labels)
			}
		}
	}
	c := get(find(t, ms, "Deployment", "roomwarden"), "spec", "template", "spec", "containers", 0).(map[string]any)
	svcPort := get(find(t, ms, "Service", "roomwarden"), "spec", "ports", 0, "targetPort")
	pmPort := get(find(t, ms, "PodMonitor", "roomwarden"), "spec", "podMetricsEndpoints", 0, "port")
	for what, port := range map[string]any{"Service targetPort": svcPort, "PodMonitor port": pmPort} {
		if containerPort(c, port) == "<nil>" {
			t.Errorf("%s %v is not a port of the container", what, port)
		}
	}
}

func TestKubernetesRules(t *testing.T) {
	data, _ := get(find(t, manifests(t), "ConfigMap", "roomwarden-rules"), "data").(map[string]any)
	if len(data) == 0 {
		t.Fatal("ConfigMap roomwarden-rules holds no files")
	}
	dir := t.TempDir()
	for name, text := range data {
		if !rules.IsRuleFile(name) {
			t.Errorf("%s is not a rules file name (*.yaml, not *_test.yaml)", name)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text.(string)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	set, err := rules.Load(dir)
	if err != nil {
		t.Fatalf("the rules ConfigMap does not load: %v", err)
	}
	if set.Len() == 0 {
		t.Error("the rules ConfigMap holds no rules")
	}
}

// unit is a systemd unit file: section → key → values in order.
type unit map[string]map[string][]string

func readUnit(t *testing.T, path string) unit {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u, section := unit{}, ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			section = strings.Trim(line, "[]")
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s: bad line %q", path, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u
}

// last is the value in force: systemd's last assignment wins.
func (u unit) last(key string) string {
	vs := u["Service"][key]
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

func TestSystemdUnit(t *testing.T) {
	u := readUnit(t, "systemd/roomwarden.service")
	cfg := loadConfig(t, "systemd/roomwarden.yaml")

	if u.last("User") != "roomwarden" && u.last("DynamicUser") != "yes" {
		t.Error("want a dedicated user: User=roomwarden or DynamicUser=yes")
	}
	for key, want := range map[string]string{
		"ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes", "NoNewPrivileges": "yes",
		"CapabilityBoundingSet": "", "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
		"MemoryDenyWriteExecute": "yes", "Restart": "on-failure", "ExecReload": "/bin/kill -HUP $MAINPID",
		"KillSignal": "SIGTERM",
	} {
		if _, set := u["Service"][key]; !set || u.last(key) != want {
			t.Errorf("%s=%q, want %q", key, u.last(key), want)
		}
	}
	if !slices.Contains(u["Service"]["SystemCallFilter"], "@system-service") {
		t.Errorf("SystemCallFilter=%q, want @system-service among them", u["Service"]["SystemCallFilter"])
	}
	if stop := systemdSeconds(t, u.last("TimeoutStopSec")); stop <= cfg.ShutdownTimeout.Duration() {
		t.Errorf("TimeoutStopSec=%s, want more than shutdown_timeout %s", stop, cfg.ShutdownTimeout.Duration())
	}
	if exec := u.last("ExecStart"); !strings.Contains(exec, " run --config /etc/roomwarden/roomwarden.yaml") {
		t.Errorf("ExecStart=%s, want run --config /etc/roomwarden/roomwarden.yaml (systemd/roomwarden.yaml installed)", exec)
	}

	// The key comes from LoadCredential=NAME:PATH, which systemd puts in
	// /run/credentials/<unit>/NAME.
	name, _, _ := strings.Cut(u.last("LoadCredential"), ":")
	if want := "/run/credentials/roomwarden.service/" + name; name == "" || cfg.RoomEngine.SecretKeyFile != want {
		t.Errorf("roomengine.secret_key_file = %q; LoadCredential=%s puts the key at %s",
			cfg.RoomEngine.SecretKeyFile, u.last("LoadCredential"), want)
	}
	if cfg.RoomEngine.SecretKeyEnv != "" {
		t.Error("roomengine.secret_key_env is set: the key comes from the credential file")
	}

	// Under ProtectSystem=strict, whatever the daemon writes must be in a
	// writable directory.
	var writable []string
	for _, d := range u["Service"]["StateDirectory"] {
		writable = append(writable, "/var/lib/"+d)
	}
	for _, d := range u["Service"]["LogsDirectory"] {
		writable = append(writable, "/var/log/"+d)
	}
	for _, v := range u["Service"]["ReadWritePaths"] {
		writable = append(writable, strings.Fields(v)...)
	}
	for what, p := range map[string]string{"nats.embedded.store_dir": cfg.NATS.Embedded.StoreDir, "action_log.path": cfg.ActionLog.Path} {
		if !slices.ContainsFunc(writable, func(w string) bool { return p == w || strings.HasPrefix(p, w+"/") }) {
			t.Errorf("%s %s is not under a writable directory (%q)", what, p, writable)
		}
	}
}

// systemdSeconds parses a systemd time span written as a number of
// seconds or a Go-style duration such as 30s.
func systemdSeconds(t *testing.T, s string) time.Duration {
	t.Helper()
	if d, err := time.ParseDuration(s); err == nil {
		return d
	}
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err != nil || fmt.Sprint(n) != s {
		t.Fatalf("time span %q: write it as seconds or as 30s", s)
	}
	return time.Duration(n) * time.Second
}

func writeTemp(t *testing.T, name, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
