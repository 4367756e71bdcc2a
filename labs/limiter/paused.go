package limiter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// The Redis paused check: the build exercise's contract is fail open.
const (
	// pausedRequests are sent one after another while Redis is paused.
	pausedRequests = 5
	// pausedWait is how long each may take: the contract says 1 s, and
	// the check allows twice that for a busy machine, plus what GET
	// /healthz took just before Redis was paused (the side-by-side
	// reference of the machine's load), up to pausedLoadMost. A Redis
	// client's default timeouts (3 s in go-redis, none in redis-py)
	// exceed it.
	pausedWait = 2 * time.Second
	// pausedLoadMost is the most of GET /healthz's time added to
	// pausedWait: the sum stays below go-redis's default 3 s.
	pausedLoadMost = 750 * time.Millisecond
	// limitsAgainWithin is how long after Redis answers again the check
	// waits for the service to limit again (the contract says 5 s), trying
	// a fresh client every limitsAgainEvery.
	limitsAgainWithin = 10 * time.Second
	limitsAgainEvery  = 500 * time.Millisecond
	// againRequests is how many requests a fresh client sends then, at
	// most: any refusal among them is limiting (how many passed is for
	// the other checks to judge). A try proves the service does not limit
	// only when more than the quota were answered within provenSpan of
	// its first request; on a machine too busy for that, it proves
	// nothing.
	againRequests = 2 * quota
)

func liveRedisPaused(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, err := startLive(ctx, t, 1)
	if err != nil {
		return failed(err)
	}
	if !tg.Can(labs.Faults) {
		return labs.Skip("This check pauses the service's Redis, which cannot be done here; it counts neither way.")
	}
	// A few requests first, so the service has its connections to Redis
	// open when Redis stops answering.
	warm, err := inOrder(ctx, tg, "client-warm", 3)
	if err != nil {
		return failed(err)
	}
	if admitted(warm) != len(warm) {
		return labs.Fail("Before Redis was paused, %d of the first %d requests of a fresh client were refused with 429.", len(warm)-admitted(warm), len(warm))
	}
	h, err := healthz(ctx, tg)
	if err != nil {
		return failed(err)
	}
	heal, err := tg.Inject(ctx, labs.Fault{Kind: labs.RedisDown})
	if errors.Is(err, labs.ErrUnsupported) {
		return labs.Skip("This check pauses the service's Redis, which cannot be done here; it counts neither way.")
	}
	if err != nil {
		return labs.Broken(fmt.Errorf("%w: pausing Redis: %w", labs.ErrEnvironment, err))
	}
	during, verdict := whilePaused(ctx, tg, pausedWait+min(h, pausedLoadMost).Round(10*time.Millisecond))
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := heal(hctx); err != nil {
		return labs.Broken(fmt.Errorf("%w: resuming Redis: %w", labs.ErrEnvironment, err))
	}
	if verdict != nil {
		return *verdict
	}
	healed := time.Now()
	rounds, got, again, proofs, err := limitsAgain(ctx, tg)
	if err != nil {
		return failed(err)
	}
	slowest := time.Duration(0)
	for _, s := range during {
		slowest = max(slowest, s.took())
	}
	paused := fmt.Sprintf("While Redis was paused, all %d requests were let through with 200, the slowest answered in %s", len(during), seconds(slowest))
	if again.IsZero() && proofs == 0 {
		return labs.Pass("%s. Once Redis answered again, the grading machine was too busy to get more than the quota of a fresh client answered within 2 s in %d tries over %s, "+
			"so whether the service limits again could not be judged.", paused, rounds, span(limitsAgainWithin))
	}
	if again.IsZero() {
		return labs.Fail("%s. But once Redis answered again, a fresh client still got all of %d requests through, in each of %d tries over %s: "+
			"the service did not limit again. After a failure, a Redis client has to reconnect, and a breaker has to close again.",
			paused, againRequests, rounds, span(limitsAgainWithin))
	}
	return labs.Pass("%s. Once Redis answered again, a fresh client's requests were refused after %d admitted, %s later.",
		paused, got, seconds(again.Sub(healed)))
}

// whilePaused sends pausedRequests one after another, each allowed wait;
// every one must be let through. A verdict is the check's when one was
// not.
func whilePaused(ctx context.Context, tg labs.Target, wait time.Duration) ([]shot, *labs.Outcome) {
	var out []shot
	for i := range pausedRequests {
		s, err := shoot(ctx, tg, "client-a", wait)
		if err != nil {
			o := failed(err)
			if o.Err == nil {
				o.Message = fmt.Sprintf("While Redis was paused, request %d of %d: %s The contract is fail open: answer 200 within 1 s while Redis does not answer. "+
					"Give every Redis call a short timeout (go-redis waits 3 s and retries 3 times by default; redis-py waits for ever without socket_timeout).",
					i+1, pausedRequests, o.Message)
			}
			return out, &o
		}
		out = append(out, s)
		if !s.allowed {
			o := labs.Fail("While Redis was paused, request %d of %d was refused with 429 (answered in %s). The contract is fail open: the limiter is a safety net in front of an API, "+
				"and refusing everything would turn a Redis outage into an outage of the API; let requests through (and log it) while Redis does not answer.",
				i+1, pausedRequests, seconds(s.took()))
			return out, &o
		}
	}
	return out, nil
}

// limitsAgain tries a fresh client every limitsAgainEvery, up to
// againRequests one after another, until one is refused or limitsAgainWithin
// has passed; again is when the refusal came (zero if none did), after
// got were admitted; proofs counts the tries that got more than the quota
// answered within provenSpan of their first, all let through.
func limitsAgain(ctx context.Context, tg labs.Target) (rounds, got int, again time.Time, proofs int, err error) {
	end := time.Now().Add(limitsAgainWithin)
	for rounds = 1; ; rounds++ {
		shots, refused, err := untilRefused(ctx, tg, fmt.Sprintf("client-after-%d", rounds), againRequests)
		if err != nil {
			return rounds, 0, time.Time{}, proofs, err
		}
		if refused {
			return rounds, admitted(shots), shots[len(shots)-1].recv, proofs, nil
		}
		if len(firstWindow(shots)) > quota {
			proofs++
		}
		if !time.Now().Add(limitsAgainEvery).Before(end) {
			return rounds, 0, time.Time{}, proofs, nil
		}
		if err := labs.Sleep(ctx, nil, limitsAgainEvery); err != nil {
			return rounds, 0, time.Time{}, proofs, err
		}
	}
}

// healthz times GET /healthz, which must answer 200.
func healthz(ctx context.Context, tg labs.Target) (time.Duration, error) {
	rctx, cancel := context.WithTimeout(ctx, answerWait)
	defer cancel()
	t0 := time.Now()
	r, err := labs.Call(rctx, tg, http.MethodGet, "/healthz", nil)
	took := time.Since(t0)
	if cerr := ctx.Err(); cerr != nil {
		return took, cerr
	}
	if err != nil {
		return took, &noAnswer{"GET /healthz " + unanswered(err, answerWait)}
	}
	if r.Status != http.StatusOK {
		return took, &noAnswer{fmt.Sprintf("GET /healthz answered %d%s; the contract answers 200.", r.Status, excerpt(r.Body))}
	}
	return took, nil
}
