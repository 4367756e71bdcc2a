package grader_test

import "os"

// spinEnv makes the test binary a busy process: load for the stability
// test, from outside the Go scheduler, as other work on a grader would be.
const spinEnv = "GRADER_TEST_SPIN"

// spinChild spins until killed when the test binary was started as one.
func spinChild() bool {
	if os.Getenv(spinEnv) == "" {
		return false
	}
	x := 0
	for {
		x++
	}
}
