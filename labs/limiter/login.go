package limiter

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// The login guard's numbers, the product's own: the suite's clock moves
// through the 15 minutes at no cost.
const (
	loginAccountLimit = 5
	loginWindow       = 15 * time.Minute
	loginIPMax        = 100 // an address spraying accounts: at most this many tries
	loginOffice       = 40  // colleagues behind one address, each trying twice
	loginSpray        = 300
	loginReplicas     = 3
)

// The login guard's check names.
const (
	checkLoginAccount  = "account limit holds for 15 minutes"
	checkLoginSpray    = "one address cannot spray accounts"
	checkLoginOffice   = "an office behind one address gets in"
	checkLoginReplicas = "holds across 3 replicas"
	checkLoginClosed   = "fails closed when Redis is down"
	checkStranded      = "no key left without a TTL after a crash"
)

// loginExercise is step 2: two limits that pull against each other, and
// a guard that must fail closed.
func loginExercise() labs.Exercise {
	return labs.Exercise{
		ID: "limiter-login-guard", Lab: "limiter", Step: 2,
		Title: "A login guard: tight per account, loose per address, closed when Redis fails",
		Card: []string{
			"Each account gets at most 5 login attempts per 15 minutes, whichever address they come from, across 3 replicas.",
			"An account that waited out its 15 minutes may try again.",
			"One address may try at most 100 logins per 15 minutes, so it cannot spray a password over many accounts…",
			"…yet an office of 40 people behind one address (NAT), each typing their password twice, all get in.",
			"When Redis is down, refuse logins (fail closed): an attacker must not get unlimited tries by knocking Redis over.",
			"A replica that crashes in the middle of a decision must not leave a key in Redis that never expires.",
		},
		Scale: "The numbers are the product's own: 5 per account and at most 100 per address per 15 minutes. " +
			"Time is the grader's own clock, which stands still while requests are in flight and which the grader moves itself " +
			"(to 14 minutes, then 2, 13 and 15.5 minutes after that), so 15 minutes cost nothing and the same design always gets the same score. " +
			"Redis being down and the crash are the lab's fault controls (POST fault?redis=down, POST crash), which you can try in a live instance.",
		Hint: "Use the per-IP limit (ip_limit, ip_window_ms) beside the per-account one, and size both: the office needs 80 attempts from one address, " +
			"an attacker must get no more than 100. Then decide what a login guard does when it cannot ask Redis.",
		Checks: []labs.Check{
			{Name: checkLoginAccount, Points: 20, Run: checkAccountLimit,
				Requirement: "10 attempts at one account from 10 addresses, a minute before a 15-minute boundary, let exactly 5 in; 2 and 13 minutes later it is still refused; 15 minutes 30 seconds after the first attempt it may try again."},
			{Name: checkLoginSpray, Points: 20, Run: checkIPSpray,
				Requirement: "One address trying 300 different accounts once each, with no time passing, gets at most 100 attempts through."},
			{Name: checkLoginOffice, Points: 15, Run: checkOffice,
				Requirement: "40 accounts behind one address, each trying twice, with no time passing: all 80 attempts get through."},
			{Name: checkLoginReplicas, Points: 15, Run: checkLoginAcross,
				Requirement: "With 3 replicas sharing the load round-robin, 30 attempts at one account let at most 5 in."},
			{Name: checkLoginClosed, Points: 20, Run: checkFailClosed,
				Requirement: "With the instance's Redis down, 10 attempts at a fresh account are all refused (none answers 200)."},
			{Name: checkStranded, Points: 10, Run: checkNoStrandedKey,
				Requirement: "A replica crashes in the middle of a fresh client's first decision; afterwards every key the limiter keeps in Redis has a TTL."},
		},
		References: loginReferences(),
	}
}

// loginReferences: the guard that meets the card, and one named mistake
// per way of missing it.
func loginReferences() []labs.Reference {
	good := func(kv ...any) labs.Design {
		d := labs.Design{"algorithm": SlidingLog, "limit": 5, "window_ms": 900000, "ip_limit": 100, "ip_window_ms": 900000,
			"storage": StorageRedis, "on_store_error": FailClosed}
		for i := 0; i+1 < len(kv); i += 2 {
			d[kv[i].(string)] = kv[i+1]
		}
		return d
	}
	return []labs.Reference{
		{Name: "login guard", Design: good()},
		{Name: "login guard on 3 replicas", Design: good("replicas", 3)},
		{Name: "sliding window counter", Design: good("algorithm", SlidingWindow), Fails: []string{checkLoginAccount}},
		{Name: "fixed window", Design: good("algorithm", FixedWindow), Fails: []string{checkLoginAccount}},
		{Name: "fails open", Design: good("on_store_error", FailOpen), Fails: []string{checkLoginClosed}},
		{Name: "no per-address limit", Design: good("ip_limit", 0), Fails: []string{checkLoginSpray}},
		{Name: "per-address limit too tight", Design: good("ip_limit", 20), Fails: []string{checkLoginOffice}},
		{Name: "account limit too loose", Design: good("limit", 10), Fails: []string{checkLoginAccount, checkLoginReplicas}},
		{Name: "account window too short", Design: good("window_ms", 60000), Fails: []string{checkLoginAccount}},
		{Name: "account window too long", Design: good("window_ms", 3600000), Fails: []string{checkLoginAccount}},
		{Name: "token bucket refills within the 15 minutes", Design: good("algorithm", TokenBucket), Fails: []string{checkLoginAccount}},
		{Name: "memory storage", Design: good("storage", StorageMemory), Fails: []string{checkLoginReplicas}},
		{Name: "INCR then EXPIRE as two commands", Design: good("algorithm", FixedWindowTwoCommands), Fails: []string{checkLoginAccount, checkStranded}},
	}
}

// The account check's probes, after its first attempts (at loginFirst,
// a minute before a 15-minute window boundary): 2 minutes later (past
// the boundary: a fixed window has started again), 13 minutes later (a
// token bucket or GCRA has refilled, a sliding window counter's estimate
// has let go) and 15.5 minutes later (the account may try again).
const loginFirst = 14 * time.Minute

var loginProbes = []struct {
	after time.Duration
	open  bool
	why   string
}{
	{2 * time.Minute, false, "a new fixed window started at the 15-minute boundary in between, or the window is shorter than 15 minutes"},
	{13 * time.Minute, false, "the allowance came back within the 15 minutes (a token bucket or GCRA refills a try every 3 minutes; a sliding window counter assumes the tries were spread over the previous window)"},
	{loginWindow + 30*time.Second, true, ""},
}

func checkAccountLimit(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, tl, err := start(ctx, t, nil)
	if err != nil {
		return labs.Broken(err)
	}
	if err := atTime(ctx, tl, loginFirst); err != nil {
		return labs.Broken(err)
	}
	now, _, err := attempts(ctx, tg, 10, same("alice"), numbered("10.1.0"))
	if err != nil {
		return labs.Broken(err)
	}
	if now != loginAccountLimit {
		return labs.Fail("10 attempts at one account from 10 addresses let %d in; the card allows exactly %d per account.%s",
			now, loginAccountLimit, accountHint(tg.Design()))
	}
	for i, p := range loginProbes {
		if err := atTime(ctx, tl, loginFirst+p.after); err != nil {
			return labs.Broken(err)
		}
		n, _, err := attempts(ctx, tg, 3, same("alice"), numbered(fmt.Sprintf("10.2.%d", i)))
		if err != nil {
			return labs.Broken(err)
		}
		switch {
		case !p.open && n > 0:
			return labs.Fail("5 attempts got in, and %v later %d of 3 more did: more than 5 tries in 15 minutes, because %s.%s",
				p.after, n, p.why, accountHint(tg.Design()))
		case p.open && n == 0:
			return labs.Fail("5 attempts got in and the account stayed locked, as it should; but %v after its first attempt it is still refused: "+
				"the window is longer than 15 minutes (%s), and a user who waited is locked out.", p.after, windowText(tg.Design()))
		}
	}
	return labs.Pass("Exactly 5 of 10 attempts got in; none 2 and 13 minutes later (across a window boundary too); the account could try again 15 minutes 30 seconds after its first attempt.")
}

func accountHint(d labs.Design) string {
	if d == nil {
		return ""
	}
	return fmt.Sprintf(" The design: %s, %d per %s on the account.", d.String("algorithm"), d.Int("limit"), windowText(d))
}

func windowText(d labs.Design) string {
	if d == nil {
		return "the service's window"
	}
	return (time.Duration(d.Int("window_ms")) * time.Millisecond).String()
}

func checkIPSpray(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, _, err := start(ctx, t, nil)
	if err != nil {
		return labs.Broken(err)
	}
	n, _, err := attempts(ctx, tg, loginSpray, numbered("victim"), same("203.0.113.66"))
	if err != nil {
		return labs.Broken(err)
	}
	if n > loginIPMax {
		return labs.Fail("One address tried %d accounts once each and got %d attempts through, more than %d: a per-account limit alone never sees it "+
			"(each account is tried once); the address needs a limit of its own (ip_limit, now %d).", loginSpray, n, loginIPMax, ipLimitOf(tg.Design()))
	}
	return labs.Pass("One address tried %d accounts once each and got %d attempts through: at most %d.", loginSpray, n, loginIPMax)
}

func ipLimitOf(d labs.Design) int {
	if d == nil {
		return 0
	}
	return d.Int("ip_limit")
}

func checkOffice(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, _, err := start(ctx, t, nil)
	if err != nil {
		return labs.Broken(err)
	}
	n, _, err := attempts(ctx, tg, 2*loginOffice, func(i int) string { return fmt.Sprintf("colleague-%d", i/2+1) }, same("198.51.100.7"))
	if err != nil {
		return labs.Broken(err)
	}
	if n < 2*loginOffice {
		return labs.Fail("%d colleagues behind one address, each trying twice: only %d of %d attempts got through. "+
			"The per-address limit (ip_limit %d) locks out a whole office; it must allow at least %d.", loginOffice, n, 2*loginOffice, ipLimitOf(tg.Design()), 2*loginOffice)
	}
	return labs.Pass("%d colleagues behind one address, each trying twice: all %d attempts got through.", loginOffice, n)
}

func checkLoginAcross(ctx context.Context, t *labs.Trial) labs.Outcome {
	if !t.Can(labs.Replicas) {
		return labs.Skip("This check runs the limiter as %d replicas, which this target cannot be run as; it counts neither way.", loginReplicas)
	}
	tg, _, err := start(ctx, t, map[string]any{"replicas": loginReplicas})
	if err != nil {
		return labs.Broken(err)
	}
	n, _, err := attempts(ctx, tg, 30, same("bob"), numbered("10.4.0"))
	if err != nil {
		return labs.Broken(err)
	}
	if n > loginAccountLimit {
		why := ""
		if d := tg.Design(); d != nil && d.String("storage") == StorageMemory {
			why = " Each replica counts in its own memory, so an attacker gets 5 tries per replica."
		}
		return labs.Fail("With %d replicas, 30 attempts at one account let %d in, more than %d.%s", loginReplicas, n, loginAccountLimit, why)
	}
	return labs.Pass("With %d replicas, 30 attempts at one account let %d in: the replicas share one count.", loginReplicas, n)
}

func checkFailClosed(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, _, err := start(ctx, t, nil)
	if err != nil {
		return labs.Broken(err)
	}
	st, err := post(ctx, tg, "/fault?redis=down")
	if err != nil {
		return labs.Broken(err)
	}
	memory := st == http.StatusBadRequest && tg.Design() != nil && tg.Design().String("storage") == StorageMemory
	if st != http.StatusOK && !memory {
		return labs.Broken(fmt.Errorf("POST /fault?redis=down answered %d", st))
	}
	n, statuses, err := attempts(ctx, tg, 10, same("carol"), same("10.5.0.1"))
	if err != nil {
		return labs.Broken(err)
	}
	switch {
	case memory && n <= loginAccountLimit:
		return labs.Pass("This design never calls Redis, so Redis being down changes nothing: %d of 10 attempts got in, within the account's %d.", n, loginAccountLimit)
	case n > 0:
		return labs.Fail("With Redis down, %d of 10 attempts at one account got in (answers %v): the guard let them through without counting "+
			"(on_store_error fail_open), so knocking Redis over gives an attacker unlimited tries.", n, statuses)
	}
	return labs.Pass("With Redis down, all 10 attempts at one account were refused (answers %v): the guard fails closed.", statuses)
}
