package labtest

import (
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"testing"
)

// busyLoop spins, and ends once the process $1 (the test) has gone,
// should it die without cleaning up (a timeout, a kill).
const busyLoop = `while kill -0 "$1" 2>/dev/null; do i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; done`

// LoadMachine keeps the machine busy with perCore busy processes per core
// (other work on a grading machine, outside the Go scheduler and the
// services' containers alike) until stop is called or the test ends.
func LoadMachine(tb testing.TB, perCore int) (stop func()) {
	tb.Helper()
	var procs []*exec.Cmd
	for range perCore * runtime.NumCPU() {
		cmd := exec.Command("sh", "-c", busyLoop, "busy", strconv.Itoa(os.Getpid()))
		if err := cmd.Start(); err != nil {
			tb.Fatal(err)
		}
		procs = append(procs, cmd)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			for _, p := range procs {
				_ = p.Process.Kill()
				_ = p.Wait()
			}
		})
	}
	tb.Cleanup(stop)
	return stop
}
