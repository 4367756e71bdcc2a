package labs

import (
	"errors"
	"strings"
)

// ServiceFailure is an error a learner's own service caused (it did not
// build, never became ready, crashed, ran out of memory), with the
// sentence the learner reads. Launchers of services return one.
type ServiceFailure interface {
	error
	ServiceFailure() string
}

// serviceOutcome is how a check that stopped on err ends when the target
// is a learner's service: an error the environment caused (it wraps
// ErrEnvironment) stays an environment failure, and anything else is
// what the service did, so the check fails with a sentence instead of
// making the grading not gradable. Errors of the checks themselves name
// the request and what came back, in plain words.
func serviceOutcome(err error) Outcome {
	if errors.Is(err, ErrEnvironment) {
		return Broken(err)
	}
	var sf ServiceFailure
	if errors.As(err, &sf) {
		return Fail("%s", sf.ServiceFailure())
	}
	msg := strings.TrimSpace(err.Error())
	if len(msg) > 400 {
		msg = msg[:400] + "…"
	}
	return Fail("The check stopped because your service did not answer as the contract says: %s.", strings.TrimSuffix(msg, "."))
}
