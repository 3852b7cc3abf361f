package admin_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/bazgasht/bazgasht/platform/admin"
)

func TestProfilesAreServedOnlyWhenAskedFor(t *testing.T) {
	for _, on := range []bool{false, true} {
		srv := httptest.NewServer(admin.Profiled(on, admin.Handler(admin.NewRegistry())))
		get := func(path string) int {
			resp, err := http.Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		want := http.StatusNotFound
		if on {
			want = http.StatusOK
		}
		if got := get("/debug/pprof/"); got != want {
			t.Errorf("profiling %v: /debug/pprof/ answered %d, want %d", on, got, want)
		}
		if got := get("/debug/pprof/goroutine?debug=1"); got != want {
			t.Errorf("profiling %v: goroutine profile answered %d, want %d", on, got, want)
		}
		for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
			if got := get(path); got != http.StatusOK {
				t.Errorf("profiling %v: %s answered %d, want 200", on, path, got)
			}
		}
		srv.Close()
	}
}
