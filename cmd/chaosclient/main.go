// Command chaosclient drives the docker-compose stack through faults while
// a learner and a visitor use it, and says what they saw. A bounded loop of
// requests through the load balancer (a visitor's lesson page, a static
// file and /healthz, which need neither PostgreSQL nor Redis; a learner's
// progress page, the labs API and pokes at a lab instance; every request
// with a 5 s timeout, a timeout counting as an error) runs through phases:
//
//	redis     Redis stopped for -outage, then started
//	postgres  PostgreSQL stopped for -outage, then started
//	replica   one app replica killed (SIGKILL), started again 3 s later
//	grader    the grader killed while it grades a submission, then started
//	reload    nginx reloaded
//
// For each phase it prints the requests, errors by status, the longest
// streak of errors, the time from the fault's end to the last error, and
// the slowest request; for the submissions, their final state and whether
// each was graded exactly once. It exits 1 when a goal is missed.
//
//	chaosclient -base http://127.0.0.1:8080 -compose 'docker-compose --compatibility -p NAME'
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"
)

func main() {
	base := flag.String("base", "", "the stack's address, through its load balancer")
	compose := flag.String("compose", "docker-compose", "the compose command for the stack, with its arguments")
	docker := flag.String("docker", "docker", "the docker command")
	phases := flag.String("phases", "redis,postgres,replica,grader,reload", "the phases to run, in order")
	outage := flag.Duration("outage", 15*time.Second, "how long a dependency stays stopped")
	workers := flag.Int("workers", 4, "requests in flight at once")
	interval := flag.Duration("interval", 50*time.Millisecond, "each worker's pause between requests")
	submit := flag.Bool("submit", true, "submit a design at the start and wait for its verdict at the end")
	lab := flag.Bool("lab", true, "poke a lab instance in the loop (false: pages and the API only)")
	flag.Parse()
	if *base == "" {
		fmt.Fprintln(os.Stderr, "chaosclient: -base is required")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	st := &stack{compose: strings.Fields(*compose), docker: *docker, outage: *outage, log: logf}
	os.Exit(run(ctx, st, options{base: strings.TrimRight(*base, "/"), phases: strings.Split(*phases, ","),
		workers: *workers, interval: *interval, submit: *submit, lab: *lab}))
}

var t0 = time.Now()

func logf(format string, args ...any) {
	fmt.Printf("[%5.1f s] %s\n", time.Since(t0).Seconds(), fmt.Sprintf(format, args...))
}

// options are the command line's.
type options struct {
	base     string
	phases   []string
	workers  int
	interval time.Duration
	submit   bool
	lab      bool
}

func run(ctx context.Context, st *stack, o options) int {
	l := newLearner(o.base)
	if err := l.setUp(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "chaosclient: setting up the learner:", err)
		return 1
	}
	verdicts := map[string]string{}
	first := ""
	if o.submit {
		var err error
		if first, err = l.submit(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "chaosclient: submitting:", err)
			return 1
		}
	}
	logf("learner signed in, lab instance %s, submission %q", l.instanceID(), first)
	if o.lab {
		st.instance = l.instanceID
	}
	loopCtx, stopLoop := context.WithCancel(ctx)
	done := make(chan struct{})
	steps := mix
	if !o.lab {
		steps = mix[:len(mix)-1] // the lab poke is last
	}
	go func() { l.loop(loopCtx, steps, o.workers, o.interval); close(done) }()
	var reports []phaseReport
	var misses []string
	for _, name := range o.phases {
		rep, err := runPhase(ctx, st, l, name, verdicts)
		if err != nil {
			misses = append(misses, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		reports = append(reports, rep)
		misses = append(misses, rep.misses(name)...)
	}
	stopLoop()
	<-done
	if first != "" {
		verdicts[first] = st.awaitVerdict(ctx, l, first)
	}
	fmt.Println()
	for _, r := range reports {
		r.print(os.Stdout)
	}
	for _, v := range verdicts {
		fmt.Println("submission", v)
		if !strings.HasSuffix(v, "graded exactly once: true") {
			misses = append(misses, "submission "+v)
		}
	}
	if len(misses) > 0 {
		fmt.Println("\ngoals missed:\n  " + strings.Join(misses, "\n  "))
		return 1
	}
	fmt.Println("\nevery goal met")
	return 0
}

// runPhase applies one fault, waits until requests have succeeded for 3 s
// (a minute at most) and sums up the phase.
func runPhase(ctx context.Context, st *stack, l *learner, name string, verdicts map[string]string) (phaseReport, error) {
	time.Sleep(3 * time.Second) // calm before the fault
	start := time.Now()
	logf("phase %s", name)
	var back time.Time
	var err error
	switch name {
	case "redis":
		back, err = st.redisOutage(ctx)
	case "postgres":
		back, err = st.postgresOutage(ctx)
	case "replica":
		back, err = st.killReplica(ctx)
	case "grader":
		back, err = st.killGrader(ctx, l, verdicts)
	case "reload":
		back, err = st.reloadBalancer(ctx)
	default:
		err = fmt.Errorf("no such phase")
	}
	if err != nil {
		return phaseReport{}, err
	}
	until(ctx, time.Minute, func() bool {
		rs := l.since(time.Now().Add(-3 * time.Second))
		if time.Since(back) < 3*time.Second || len(rs) == 0 {
			return false
		}
		for _, r := range rs {
			if !r.ok {
				return false
			}
		}
		return true
	})
	return summarize(name, l.since(start), back), nil
}
