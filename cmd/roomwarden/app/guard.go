package app

import (
	"net"
	"net/http"
)

// guard protects the operations endpoint from web pages in the
// operator's browser. With no token configured, the endpoint is open to
// anything that can reach loopback, which includes any page the operator
// visits:
//
//   - a cross-site POST (a form or fetch from another origin) would
//     reload rules or reset a tripped rule: unsafe requests whose
//     Sec-Fetch-Site or Origin says they come from another origin are
//     refused (net/http's CrossOriginProtection);
//   - a page on a domain that resolves to 127.0.0.1 (DNS rebinding) is
//     same-origin to the browser and could read the console's state:
//     while http.listen is on loopback, a request must name a loopback
//     host, so a Host of attacker.example is refused.
//
// Tools that send no browser headers (curl, Prometheus, kubelet probes)
// are not affected.
func guard(listenHost string, next http.Handler) http.Handler {
	protected := http.NewCrossOriginProtection().Handler(next)
	if !isLoopback(listenHost) {
		return protected
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !loopbackHost(r.Host) {
			http.Error(w, "this endpoint listens on loopback: the request must name a loopback host (127.0.0.1, [::1] or localhost)",
				http.StatusMisdirectedRequest)
			return
		}
		protected.ServeHTTP(w, r)
	})
}

// loopbackHost reports whether a Host header, with or without a port,
// names a loopback address.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	} else if len(host) > 1 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1]
	}
	return isLoopback(host)
}
