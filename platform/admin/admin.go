// Package admin serves a service's operational endpoints on its admin port:
// /healthz (the process is alive), /readyz (its dependencies answer),
// /metrics (Prometheus) and, when asked for, /debug/pprof/ (Go's profiles).
package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check reports whether one dependency is usable.
type Check struct {
	// Name appears in the /readyz body.
	Name string
	// Probe returns nil when the dependency is usable.
	Probe func(ctx context.Context) error
}

// NewRegistry returns a Prometheus registry with the Go runtime and process
// collectors, for a service to add its own series to.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Handler returns the admin endpoints. Readiness runs every check with a
// one-second budget and answers 503 naming the failing ones.
func Handler(gatherer prometheus.Gatherer, checks ...Check) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		failing := map[string]string{}
		for _, c := range checks {
			if err := c.Probe(ctx); err != nil {
				failing[c.Name] = err.Error()
			}
		}
		if len(failing) > 0 {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "failing": failing})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	return mux
}

// Profiled adds Go's profiles (net/http/pprof: CPU, heap, goroutines,
// mutex and block profiles, execution traces) under /debug/pprof/ to an
// admin handler when on is true, and returns next as it is otherwise.
// Services turn it on with ADMIN_PPROF=true: the admin port is for
// operators, and a profile of a service under real load is how its time is
// found. Profiles hold no request data.
func Profiled(on bool, next http.Handler) http.Handler {
	if !on {
		return next
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	mux.Handle("/", next)
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Healthcheck asks the admin server at addr (":7080" means this host) for
// /readyz and returns a process exit code: 0 ready, 1 not. It lets a
// container image without a shell or curl probe itself (`<svc> -healthcheck`).
func Healthcheck(addr string) int {
	if strings.HasPrefix(addr, ":") {
		addr = "127.0.0.1" + addr
	}
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + addr + "/readyz")
	if err != nil {
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 1
	}
	return 0
}
