package shop

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/sdworkbook/workbook/labs/labhttp"
)

// ConsumerView is one consumer in GET consumers.
type ConsumerView struct {
	Name   string `json:"name"`
	Alive  bool   `json:"alive"`
	Deaths int    `json:"deaths"`
	// DiedIn is the message the consumer died in, left pending.
	DiedIn string `json:"died_in,omitempty"`
	// Armed is where the consumer will die in its next message.
	Armed string `json:"armed_to_die,omitempty"`
}

// ServiceView is one service in GET consumers.
type ServiceView struct {
	Service string   `json:"service"`
	Streams []string `json:"streams"`
	// Pending is the messages of its streams the service has not finished:
	// delivered and not acknowledged, or not delivered yet.
	Pending   int64          `json:"pending"`
	Consumers []ConsumerView `json:"consumers"`
}

// ConsumersView is GET consumers.
type ConsumersView struct {
	ClaimIdleMS   int64         `json:"claim_idle_ms"`
	MaxDeliveries int           `json:"max_deliveries"`
	Services      []ServiceView `json:"services"`
}

func (in *instance) consumers(ctx context.Context) (ConsumersView, error) {
	v := ConsumersView{ClaimIdleMS: in.cfg.claimIdle.Milliseconds(), MaxDeliveries: in.cfg.maxDeliver}
	bl, err := in.backlog(ctx)
	if err != nil {
		return v, err
	}
	for _, name := range services {
		s := in.svcs[name]
		sv := ServiceView{Service: name, Pending: bl.ByService[name]}
		for _, st := range s.streams {
			sv.Streams = append(sv.Streams, strings.TrimPrefix(st, in.env.Prefix))
		}
		for _, c := range s.consumers {
			c.mu.Lock()
			cv := ConsumerView{Name: c.name, Alive: c.run != nil, Deaths: c.deaths, DiedIn: c.diedOn}
			c.mu.Unlock()
			if p := c.kill.Load(); p != nil && cv.Alive {
				cv.Armed = *p
			}
			sv.Consumers = append(sv.Consumers, cv)
		}
		v.Services = append(v.Services, sv)
	}
	return v, nil
}

func (in *instance) handleConsumers(w http.ResponseWriter, r *http.Request) error {
	v, err := in.consumers(r.Context())
	if err != nil {
		return failure("read the consumer groups", err)
	}
	labhttp.WriteJSON(w, http.StatusOK, v)
	return nil
}

// pickConsumers reads the path's service and ?consumer= (a number or
// all; def when absent).
func (in *instance) pickConsumers(r *http.Request, def string) (*service, []*consumer, url.Values, error) {
	name := r.PathValue("service")
	s, ok := in.svcs[name]
	if !ok {
		return nil, nil, nil, notFound("service", "No service %q; the services are %s.", clip(name, 40), strings.Join(services, ", "))
	}
	q, err := labhttp.Query(r)
	if err != nil {
		return nil, nil, nil, err
	}
	which := q.Get("consumer")
	if which == "" {
		which = def
	}
	if which == "all" {
		return s, s.consumers, q, nil
	}
	i, err := strconv.Atoi(which)
	if err != nil || i < 0 || i >= len(s.consumers) {
		return nil, nil, nil, labhttp.Invalid("consumer", "consumer must be all or a number from 0 to %d.", len(s.consumers)-1)
	}
	return s, s.consumers[i : i+1], q, nil
}

// KillResult is POST consumers/{service}/kill and …/restart.
type KillResult struct {
	Service string   `json:"service"`
	At      string   `json:"at,omitempty"`
	Changed []string `json:"consumers"`
	Message string   `json:"message"`
}

// killMessages say what each kill point does.
var killMessages = map[string]string{
	"now":           "Killed. Whatever they were processing stays pending until a restart replays it or another consumer claims it after claim_idle_ms.",
	"before_commit": "Armed: each dies in its next message before committing, so nothing of that message happens and it stays pending.",
	"after_commit": "Armed: each dies in its next message after committing its change and before publishing or acknowledging; " +
		"the message stays pending.",
}

func (in *instance) handleKill(w http.ResponseWriter, r *http.Request) error {
	s, cs, q, err := in.pickConsumers(r, "0")
	if err != nil {
		return err
	}
	at := q.Get("at")
	if at == "" {
		at = "after_commit"
	}
	if killMessages[at] == "" {
		return labhttp.Invalid("at", "at must be after_commit (dies after its next message's commit, before publishing or acknowledging), before_commit, or now.")
	}
	res := KillResult{Service: s.name, At: at, Changed: []string{}, Message: killMessages[at]}
	for _, c := range cs {
		switch {
		case !c.alive():
		case at == "now":
			if c.killNow() {
				res.Changed = append(res.Changed, c.name)
			}
		default:
			point := at
			c.kill.Store(&point)
			res.Changed = append(res.Changed, c.name)
		}
	}
	if len(res.Changed) == 0 {
		return labhttp.Conflict("consumer", "No live consumer to kill; POST consumers/%s/restart first.", s.name)
	}
	in.env.Metrics.Eventf("warn", "consumers %s: kill (%s)", strings.Join(res.Changed, ", "), at)
	labhttp.WriteJSON(w, http.StatusOK, res)
	return nil
}

func (in *instance) handleRestart(w http.ResponseWriter, r *http.Request) error {
	s, cs, _, err := in.pickConsumers(r, "all")
	if err != nil {
		return err
	}
	res := KillResult{Service: s.name, Changed: []string{}}
	for _, c := range cs {
		if in.startConsumer(c) {
			res.Changed = append(res.Changed, c.name)
		}
	}
	if len(res.Changed) == 0 {
		return labhttp.Conflict("consumer", "No dead consumer to restart.")
	}
	res.Message = "Restarted. Each first reads the messages it left pending (their delivery count rises), then new ones."
	in.env.Metrics.Eventf("info", "consumers %s restarted", strings.Join(res.Changed, ", "))
	labhttp.WriteJSON(w, http.StatusOK, res)
	return nil
}
