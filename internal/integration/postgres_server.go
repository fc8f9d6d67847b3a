package integration

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// PostgresServer is a throwaway PostgreSQL cluster on a loopback port,
// made by initdb in a directory of its own, for tests that stop and
// restart the database. It never touches the shared server.
type PostgresServer struct {
	port    int
	dir     string // holds data/, the socket and the log; removed at cleanup
	bin     string // the directory of initdb and pg_ctl
	owner   *syscall.Credential
	running bool
}

// StartPostgresServer makes a cluster with initdb (user postgres, trust
// authentication, as scripts/test does), starts it on a free loopback port
// and waits until it accepts connections. At cleanup it is stopped and its
// directory removed. PostgreSQL refuses to run as root: when the test runs
// as root, the cluster belongs to and runs as the system user postgres.
// Without PostgreSQL's programs the test is skipped, or fails when
// integration tests are required.
func StartPostgresServer(t *testing.T) *PostgresServer {
	t.Helper()
	bin, err := postgresBin()
	if err != nil {
		if Required() {
			t.Fatalf("PostgreSQL not found and TOKENCACHE_REQUIRE_INTEGRATION=1: %v", err)
		}
		t.Skipf("PostgreSQL not found: %v", err)
	}
	owner, err := postgresOwner()
	if err != nil {
		t.Fatal(err)
	}
	// Not t.TempDir: its parent directories are private to this user, and
	// the server may run as another.
	dir, err := os.MkdirTemp("", "tokencache-pg-")
	if err != nil {
		t.Fatal(err)
	}
	p := &PostgresServer{dir: dir, bin: bin, owner: owner}
	var guard *exec.Cmd
	var guardIn io.Closer
	t.Cleanup(func() {
		if p.running {
			if err := p.pgCtl("stop", "-m", "immediate"); err != nil {
				t.Errorf("stopping PostgreSQL: %v", err)
			}
		}
		if t.Failed() {
			if log, err := os.ReadFile(p.logPath()); err == nil {
				t.Logf("PostgreSQL log:\n%s", log)
			}
		}
		if guard != nil {
			_ = guardIn.Close()
			_ = guard.Wait() // it finds the server stopped already
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("removing the PostgreSQL directory: %v", err)
		}
	})
	if err := p.initdb(); err != nil {
		t.Fatal(err)
	}
	if guard, guardIn, err = p.startGuard(); err != nil {
		t.Fatal(err)
	}
	// Another process may take the free port before the server binds it:
	// try a few.
	for range 3 {
		if p.port, err = freeLoopbackPort(); err != nil {
			t.Fatal(err)
		}
		if err = p.start(); err == nil {
			return p
		}
	}
	t.Fatalf("starting PostgreSQL: %v", err)
	return nil
}

// URL is the cluster's database postgres, as its superuser postgres.
func (p *PostgresServer) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

// Stop shuts the server down in fast mode, as an operator's restart does:
// open transactions are rolled back, their clients disconnected with an
// error, and the data is written out. It returns once the server is gone.
func (p *PostgresServer) Stop(t *testing.T) {
	t.Helper()
	if err := p.pgCtl("stop", "-m", "fast"); err != nil {
		t.Fatalf("stopping PostgreSQL on port %d: %v", p.port, err)
	}
	p.running = false
}

// Start starts the server again after Stop, on the same port and data
// directory, and returns once it accepts connections.
func (p *PostgresServer) Start(t *testing.T) {
	t.Helper()
	if err := p.start(); err != nil {
		t.Fatalf("restarting PostgreSQL on port %d: %v", p.port, err)
	}
}

func (p *PostgresServer) dataDir() string { return filepath.Join(p.dir, "data") }
func (p *PostgresServer) logPath() string { return filepath.Join(p.dir, "postgres.log") }

// initdb makes the cluster. Every file is the owner's, so that the server
// can write them.
func (p *PostgresServer) initdb() error {
	if err := os.Chmod(p.dir, 0o755); err != nil {
		return fmt.Errorf("opening the PostgreSQL directory to its owner: %w", err)
	}
	if p.owner != nil {
		if err := os.Chown(p.dir, int(p.owner.Uid), int(p.owner.Gid)); err != nil {
			return fmt.Errorf("giving the PostgreSQL directory to its owner: %w", err)
		}
	}
	// --no-sync: the cluster is thrown away, so its creation need not
	// survive a power cut.
	out, err := p.run("initdb", "-D", p.dataDir(), "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--no-locale", "--no-sync")
	if err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, out)
	}
	return nil
}

// start runs the server on p.port, its socket in p.dir, and waits up to
// a minute until it accepts connections.
func (p *PostgresServer) start() error {
	// fsync=off spares a shared machine's disk; a stop, even a fast one,
	// still writes everything out before the server exits.
	opts := fmt.Sprintf("-p %d -h 127.0.0.1 -k '%s' -c fsync=off", p.port, p.dir)
	if err := p.pgCtl("start", "-l", p.logPath(), "-t", "60", "-o", opts); err != nil {
		// A server that half started must not stay behind.
		_ = p.pgCtl("stop", "-m", "immediate")
		return err
	}
	p.running = true
	return nil
}

// startGuard starts the process that stops the server and removes its
// directory once the test's process is gone, even without its clean-ups,
// as when go test's -timeout runs out: pg_ctl leaves the server running
// on its own, so DieWithTest cannot reach it. The guard waits for the end
// of its standard input, whose other end only the test holds; closing it
// sets the guard off.
func (p *PostgresServer) startGuard() (*exec.Cmd, io.Closer, error) {
	script := `cat >/dev/null; "$0" -D "$1/data" -m immediate stop >/dev/null 2>&1; rm -rf "$1"`
	cmd := exec.Command("sh", "-c", script, filepath.Join(p.bin, "pg_ctl"), p.dir)
	cmd.Dir = p.dir
	// A session of its own, as the server's: Ctrl-C, which a terminal
	// sends to the test's whole process group, must not stop the guard
	// with the test.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: p.owner}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("starting the guard of PostgreSQL: %w", err)
	}
	return cmd, in, nil
}

// pgCtl runs pg_ctl on the data directory, waiting for it to finish.
func (p *PostgresServer) pgCtl(args ...string) error {
	args = append([]string{"-D", p.dataDir(), "-w"}, args...)
	out, err := p.run("pg_ctl", args...)
	if err != nil {
		return fmt.Errorf("pg_ctl %s: %w\n%s", args[3], err, out)
	}
	return nil
}

// run runs one of PostgreSQL's programs as the cluster's owner and returns
// its output.
func (p *PostgresServer) run(program string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(p.bin, program), args...)
	cmd.Dir = p.dir // initdb and pg_ctl want a working directory they can read
	if p.owner != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.owner}
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// postgresBin finds the directory of initdb and pg_ctl: that of initdb on
// PATH, else the newest /usr/lib/postgresql/*/bin, where Debian keeps them.
func postgresBin() (string, error) {
	if path, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(path); err == nil {
			return filepath.Dir(real), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	best, bestVersion := "", -1
	for _, dir := range dirs {
		version, err := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
		if err != nil || version <= bestVersion {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			best, bestVersion = dir, version
		}
	}
	if best == "" {
		return "", errors.New("no initdb on PATH or in /usr/lib/postgresql/*/bin")
	}
	return best, nil
}

// postgresOwner returns the user to run PostgreSQL's programs as: nil (the
// test's own user) unless the test runs as root, then postgres.
func postgresOwner() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, and PostgreSQL refuses to: need a user postgres to run it as: %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("uid of postgres %q: %w", u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("gid of postgres %q: %w", u.Gid, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}
