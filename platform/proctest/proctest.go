// Package proctest runs real service binaries in end-to-end tests: it builds
// them with the go command, finds free ports, starts them as processes with
// their output kept for the failure message, waits until they are ready and
// stops them with SIGTERM as an orchestrator would.
package proctest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Build compiles the main package pkg (an import path or a directory
// relative to the test's working directory) into the test's temporary
// directory and returns the binary's path.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", out, pkg)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("proctest: go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// RunWithBinaries is a TestMain for tests that start real binaries: it
// builds each main package (import path -> where to put the binary's path)
// into one temporary directory, runs the tests, removes the directory and
// returns the exit code.
func RunWithBinaries(m *testing.M, bins map[string]*string) int {
	dir, err := os.MkdirTemp("", "bazgasht-bins")
	if err != nil {
		fmt.Fprintln(os.Stderr, "proctest:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	for pkg, path := range bins {
		*path = filepath.Join(dir, filepath.Base(pkg))
		if out, err := exec.Command("go", "build", "-o", *path, pkg).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "proctest: go build %s: %v\n%s", pkg, err, out)
			return 1
		}
	}
	return m.Run()
}

// FreeAddr returns a 127.0.0.1 address with a port nothing listens on now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Process is a running binary.
type Process struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Start runs bin with env added to a minimal environment. The process is
// killed when the test ends if it is still running, and its output is
// logged when the test failed.
func Start(t testing.TB, bin string, env ...string) *Process {
	t.Helper()
	p := &Process{cmd: exec.Command(bin), out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("proctest: start %s: %v", bin, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("output of %s:\n%s", filepath.Base(bin), p.out.String())
		}
	})
	return p
}

// Output is what the process wrote so far.
func (p *Process) Output() string { return p.out.String() }

// WaitReady polls url until it answers 200, the process exits, or d passes.
func (p *Process) WaitReady(t testing.TB, url string, d time.Duration) {
	t.Helper()
	if _, err := p.ready(url, d); err != nil {
		t.Fatalf("proctest: %v\n%s", err, p.out.String())
	}
}

// ready polls url until it answers 200 (nil), the process exits (exited),
// or d passes.
func (p *Process) ready(url string, d time.Duration) (exited bool, err error) {
	deadline := time.Now().Add(d)
	for {
		select {
		case <-p.done:
			return true, fmt.Errorf("process exited before %s was ready: %v", url, p.err)
		default:
		}
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return false, nil
			}
		}
		if time.Now().After(deadline) {
			return false, fmt.Errorf("%s not ready within %v (last: %v)", url, d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// StartOnFreeAddrs starts bin on n free 127.0.0.1 addresses (env builds
// its environment from them) and waits until readyURL answers 200. FreeAddr
// closes the port it found, so another process can take it before bin
// binds it; a start lost that way ("address already in use") is tried
// again on fresh addresses, up to three times.
func StartOnFreeAddrs(t testing.TB, bin string, n int, env func(addrs []string) []string, readyURL func(addrs []string) string, d time.Duration) (*Process, []string) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		addrs := make([]string, n)
		for i := range addrs {
			addrs[i] = FreeAddr(t)
		}
		p := Start(t, bin, env(addrs)...)
		exited, err := p.ready(readyURL(addrs), d)
		switch {
		case err == nil:
			return p, addrs
		case exited && attempt < 3 && strings.Contains(p.Output(), "address already in use"):
			continue
		}
		t.Fatalf("proctest: %v\n%s", err, p.Output())
	}
}

// Stop sends SIGTERM and waits up to d for the process to exit; it returns
// the exit error (nil for a clean exit).
func (p *Process) Stop(d time.Duration) error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(d):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("proctest: still running %v after SIGTERM; killed", d)
	}
}

// Kill sends SIGKILL, as a crash or an OOM kill would, and waits for the
// process to be gone.
func (p *Process) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Exited waits until ctx ends for the process to exit by itself; it reports
// whether it did and its exit error.
func (p *Process) Exited(ctx context.Context) (exited bool, err error) {
	select {
	case <-p.done:
		return true, p.err
	case <-ctx.Done():
		return false, nil
	}
}

// StartProfile starts the profile service binary bin beside a test on
// NATS and Redis (its cache keys under cachePrefix), on free addresses,
// and returns its gRPC address once it is ready: the services that read
// profiles are tested against the real one.
func StartProfile(t testing.TB, bin, natsURL, redisURL, cachePrefix string) string {
	t.Helper()
	_, addrs := StartOnFreeAddrs(t, bin, 2, func(a []string) []string {
		return []string{"NATS_URL=" + natsURL, "REDIS_URL=" + redisURL, "PROFILE_CACHE_PREFIX=" + cachePrefix,
			"PROFILE_GRPC_ADDR=" + a[0], "PROFILE_ADMIN_ADDR=" + a[1]}
	}, func(a []string) string { return "http://" + a[1] + "/readyz" }, 20*time.Second)
	return addrs[0]
}
