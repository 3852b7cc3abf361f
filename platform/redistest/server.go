package redistest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is a redis-server process owned by one test, for tests that take
// Redis away: kill it, pause it, start it again on the same port. It keeps
// nothing on disk, so a restarted server starts empty. Its methods fail the
// test and must be called from the test's goroutine.
type Server struct {
	t    testing.TB
	path string
	dir  string
	port int

	mu   sync.Mutex
	proc *serverProc // nil while killed
}

// serverProc is one run of the server.
type serverProc struct {
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

// startTimeout bounds how long a starting server may take to answer PING.
const startTimeout = 10 * time.Second

// StartServer starts a dedicated redis-server on a free 127.0.0.1 port,
// with persistence off, and returns once it answers PING. It is killed when
// the test ends. The test fails if redis-server is not installed.
func StartServer(t testing.TB) *Server {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redistest: redis-server is not installed (it is needed for tests that stop Redis): %v", err)
	}
	s := &Server{t: t, path: path, dir: t.TempDir()}
	t.Cleanup(s.cleanup)
	// A free port can be taken between choosing it and binding it: choose
	// again a few times before giving up.
	var last string
	for range 5 {
		s.port = freePort(t)
		proc, msg := s.launch()
		if proc != nil {
			s.setProc(proc)
			return s
		}
		last = msg
	}
	t.Fatalf("redistest: could not start redis-server: %s", last)
	return nil
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// URL is the server's redis:// URL, for redisconn.New.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Client returns a client with go-redis defaults for the test's own checks
// and setup; it reconnects after a restart and is closed when the test ends.
func (s *Server) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr()})
	s.t.Cleanup(func() { _ = c.Close() })
	return c
}

// Kill stops the server with SIGKILL, as a crash would, and waits until it
// is gone. Killing a killed server does nothing.
func (s *Server) Kill() {
	s.t.Helper()
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p == nil {
		return
	}
	// A paused process dies of SIGKILL too.
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Restart starts the server again on the same port, empty, and returns once
// it answers PING. A running server is killed first.
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	proc, msg := s.launch()
	if proc == nil {
		s.t.Fatalf("redistest: restarting redis-server on port %d: %s", s.port, msg)
	}
	s.setProc(proc)
}

// Pause stops the server with SIGSTOP: connections are accepted by the
// kernel but nothing is answered, as with an overloaded or hung Redis.
// Commands sent meanwhile run when the server resumes.
func (s *Server) Pause() { s.signal(syscall.SIGSTOP, "pause") }

// Resume continues a paused server with SIGCONT.
func (s *Server) Resume() { s.signal(syscall.SIGCONT, "resume") }

func (s *Server) signal(sig syscall.Signal, what string) {
	s.t.Helper()
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	if p == nil {
		s.t.Fatalf("redistest: cannot %s redis-server: it is not running", what)
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("redistest: %s redis-server: %v", what, err)
	}
}

func (s *Server) setProc(p *serverProc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.proc = p
}

// launch starts one run and waits until it answers PING. It returns the run,
// or nil and why it did not start.
func (s *Server) launch() (*serverProc, string) {
	p := &serverProc{out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(s.path,
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Sprintf("start %s: %v", s.path, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()

	c := redis.NewClient(&redis.Options{Addr: s.Addr(), DialTimeout: time.Second, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-p.done:
			return nil, fmt.Sprintf("exited at start (%v):\n%s", p.err, strings.TrimSpace(p.out.String()))
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return p, ""
		}
		if time.Now().After(deadline) {
			_ = p.cmd.Process.Kill()
			<-p.done
			return nil, fmt.Sprintf("no answer on %s within %v (last: %v):\n%s", s.Addr(), startTimeout, err, strings.TrimSpace(p.out.String()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *Server) cleanup() {
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	if p != nil && s.t.Failed() {
		s.t.Logf("redistest: output of redis-server on %s:\n%s", s.Addr(), p.out.String())
	}
	s.Kill()
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("redistest: finding a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
