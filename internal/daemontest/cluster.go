package daemontest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// NATSCluster is nats-server processes clustered on loopback: each node
// with JetStream, its own store directory and free ports for clients,
// routes and monitoring. Streams at R3 on a three-node cluster survive
// one node going down.
type NATSCluster struct {
	Nodes []*ClusterNode
}

// ClusterNode is one server of a NATSCluster. Stop and Start restart it
// on the same ports and store.
type ClusterNode struct {
	t           testing.TB
	bin         string
	Name        string
	Port        int // clients
	ClusterPort int // routes
	HTTPPort    int // monitoring: /healthz, /jsz
	ProfPort    int // Go profiler: /debug/pprof/
	StoreDir    string
	Logs        *SyncBuffer // the server's own output, across restarts

	conf string
	proc *Process
}

// clusterName names the test clusters' route group.
const clusterName = "roomwarden-test"

// StartNATSCluster starts n clustered nats-server processes with
// JetStream, storing under t.TempDir(), waits until each reports
// itself healthy (JetStream meta leader elected and current), and stops
// them when the test ends.
func StartNATSCluster(t testing.TB, n int) *NATSCluster {
	t.Helper()
	bin := NATSServerBinary(t)
	c := &NATSCluster{}
	dir := t.TempDir()
	ports := FreePorts(t, 4*n)
	for i := range n {
		p := ports[4*i : 4*i+4]
		c.Nodes = append(c.Nodes, &ClusterNode{t: t, bin: bin, Name: fmt.Sprintf("n%d", i+1),
			Port: p[0], ClusterPort: p[1], HTTPPort: p[2], ProfPort: p[3],
			StoreDir: filepath.Join(dir, fmt.Sprintf("n%d", i+1)), Logs: &SyncBuffer{}})
	}
	for _, node := range c.Nodes {
		node.conf = filepath.Join(dir, node.Name+".conf")
		if err := os.WriteFile(node.conf, []byte(node.config(c.Nodes)), 0o600); err != nil {
			t.Fatalf("write %s: %v", node.conf, err)
		}
	}
	for _, node := range c.Nodes {
		node.start()
	}
	t.Cleanup(func() {
		for _, node := range c.Nodes {
			if node.proc != nil {
				node.proc.Kill()
			}
		}
	})
	for _, node := range c.Nodes {
		node.WaitHealthy()
	}
	return c
}

// config is the node's config file: the other nodes are its routes.
func (n *ClusterNode) config(all []*ClusterNode) string {
	var routes []string
	for _, o := range all {
		if o != n {
			routes = append(routes, fmt.Sprintf("%q", fmt.Sprintf("nats-route://127.0.0.1:%d", o.ClusterPort)))
		}
	}
	return fmt.Sprintf(`server_name: %q
listen: "127.0.0.1:%d"
http: "127.0.0.1:%d"
prof_port: %d
jetstream {
  store_dir: %q
}
cluster {
  name: %q
  listen: "127.0.0.1:%d"
  routes: [%s]
}
`, n.Name, n.Port, n.HTTPPort, n.ProfPort, n.StoreDir, clusterName, n.ClusterPort, strings.Join(routes, ", "))
}

// URL is the client URLs of every node, comma-separated, as nats.url
// takes them.
func (c *NATSCluster) URL() string {
	urls := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		urls[i] = n.URL()
	}
	return strings.Join(urls, ",")
}

// URL is the node's client URL.
func (n *ClusterNode) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.Port) }

func (n *ClusterNode) start() {
	n.t.Helper()
	n.proc = StartProcess(n.t, n.bin, nil, n.Logs, "-c", n.conf)
	WaitListening(n.t, fmt.Sprintf("127.0.0.1:%d", n.Port), n.proc)
}

// Start starts a stopped node again and waits until it is healthy.
func (n *ClusterNode) Start() {
	n.t.Helper()
	if n.proc != nil {
		n.t.Fatalf("%s: already running", n.Name)
	}
	n.start()
	n.WaitHealthy()
}

// Stop stops the node gracefully (SIGTERM) and waits for it to exit.
func (n *ClusterNode) Stop() {
	n.t.Helper()
	if n.proc == nil {
		return
	}
	n.proc.Signal(syscall.SIGTERM)
	if _, err := n.proc.Wait(processWait); err != nil {
		n.t.Fatalf("%s stop: %v", n.Name, err)
	}
	n.proc = nil
}

// Pid is the running node's process id (0 when stopped).
func (n *ClusterNode) Pid() int {
	if n.proc == nil {
		return 0
	}
	return n.proc.Pid()
}

// Connections counts the node's client connections named name (from
// its /connz), 0 if it cannot tell.
func (n *ClusterNode) Connections(name string) int {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/connz?limit=1024", n.HTTPPort))
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var connz struct {
		Connections []struct {
			Name string `json:"name"`
		} `json:"connections"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&connz); err != nil {
		return 0
	}
	count := 0
	for _, conn := range connz.Connections {
		if conn.Name == name {
			count++
		}
	}
	return count
}

// Healthy reports whether the node's /healthz answers 200: it runs,
// and its JetStream is current with the cluster's meta leader and with
// the streams and consumers it holds.
func (n *ClusterNode) Healthy() bool {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", n.HTTPPort))
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// WaitHealthy waits until Healthy, failing the test after processWait.
func (n *ClusterNode) WaitHealthy() {
	n.t.Helper()
	deadline := time.Now().Add(processWait)
	for !n.Healthy() {
		if n.proc != nil && n.proc.Exited() {
			n.t.Fatalf("%s exited:\n%s", n.Name, n.Logs.String())
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("%s not healthy after %s:\n%s", n.Name, processWait, n.Logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
