package shop

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sdworkbook/workbook/labs/labhttp"
)

// OutboxRow is a row of GET outbox.
type OutboxRow struct {
	ID          int64      `json:"id"`
	Stream      string     `json:"stream"`
	Type        string     `json:"type"`
	EventID     string     `json:"event_id"`
	CreatedAt   time.Time  `json:"created_at"`
	PublishedAt *time.Time `json:"published_at"`
}

// OutboxView is GET outbox.
type OutboxView struct {
	Enabled     bool        `json:"enabled"`
	Relay       string      `json:"relay"`
	Unpublished int64       `json:"unpublished"`
	Published   int64       `json:"published"`
	RelayCrash  int64       `json:"relay_crashes"`
	Recent      []OutboxRow `json:"recent"`
	Message     string      `json:"message,omitempty"`
}

func (in *instance) handleOutbox(w http.ResponseWriter, r *http.Request) error {
	if !in.cfg.outbox {
		labhttp.WriteJSON(w, http.StatusOK, OutboxView{Relay: "none", Recent: []OutboxRow{},
			Message: "outbox=false: services commit and then XADD (a dual write); there is no outbox and no relay."})
		return nil
	}
	v := OutboxView{Enabled: true, Relay: "stopped", Published: in.relay.published.Load(), RelayCrash: in.relay.crashes.Load()}
	if in.relay.running() {
		v.Relay = "running"
	}
	var err error
	if v.Unpublished, err = in.outboxBacklog(r.Context()); err != nil {
		return failure("read the outbox", err)
	}
	if v.Recent, err = in.recentOutbox(r.Context()); err != nil {
		return failure("read the outbox", err)
	}
	labhttp.WriteJSON(w, http.StatusOK, v)
	return nil
}

// recentOutbox reads the newest 20 rows of the outbox.
func (in *instance) recentOutbox(ctx context.Context) ([]OutboxRow, error) {
	rows, err := in.env.DB.QueryContext(ctx, in.env.Rebind(`SELECT id, stream, type, event_id, created_ms, published_ms FROM shop_lab_outbox WHERE instance = ? ORDER BY id DESC LIMIT 20`),
		in.env.Instance)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []OutboxRow{}
	for rows.Next() {
		var o OutboxRow
		var c int64
		var pub sql.NullInt64
		if err := rows.Scan(&o.ID, &o.Stream, &o.Type, &o.EventID, &c, &pub); err != nil {
			return nil, err
		}
		o.Stream = strings.TrimPrefix(o.Stream, in.env.Prefix)
		o.CreatedAt = time.UnixMilli(c).UTC()
		if pub.Valid {
			t := time.UnixMilli(pub.Int64).UTC()
			o.PublishedAt = &t
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

func (in *instance) handleRelay(action string) handler {
	return func(w http.ResponseWriter, _ *http.Request) error {
		if !in.cfg.outbox {
			return labhttp.Conflict("outbox", "There is no relay with outbox=false: services publish right after their commit.")
		}
		msg := ""
		switch action {
		case "stop":
			msg = "Relay stopped: new outbox rows wait, committed, until it starts again."
			if !in.relay.stop() {
				msg = "The relay was not running."
			}
		case "start":
			msg = "Relay started: it publishes every row it has not marked published."
			if !in.relay.start() {
				msg = "The relay was already running."
			}
		case "crash":
			if !in.relay.running() {
				return labhttp.Conflict("relay", "The relay is not running; POST relay/start first.")
			}
			in.relay.crashNext.Store(true)
			in.relay.ring()
			msg = fmt.Sprintf("Armed: the relay dies after its next publish and before marking the rows published; it restarts after %d ms and "+
				"publishes them again, so consumers see each of those messages twice.", relayRestart.Milliseconds())
		}
		in.env.Metrics.Eventf("info", "relay %s: %s", action, msg)
		labhttp.WriteJSON(w, http.StatusOK, map[string]string{"relay": action, "message": msg})
		return nil
	}
}

func (in *instance) handleCrashAfterCommit(w http.ResponseWriter, r *http.Request) error {
	q, err := labhttp.Query(r)
	if err != nil {
		return err
	}
	n, err := labhttp.QueryInt(q, "count", 1, 1, 100)
	if err != nil {
		return err
	}
	in.crashAfterCommit.Store(int64(n))
	msg := fmt.Sprintf("Armed: the next %d order placements crash right after their commit. ", n)
	if in.cfg.outbox {
		msg += "Their OrderCreated is already in the outbox, so the relay still publishes it."
	} else {
		msg += "With outbox=false the publish that follows the commit never happens: those orders stay pending."
	}
	labhttp.WriteJSON(w, http.StatusOK, map[string]any{"armed": n, "message": msg})
	return nil
}

func (in *instance) handlePoison(w http.ResponseWriter, r *http.Request) error {
	st, id, err := in.poison(r.Context())
	if err != nil {
		return failure("publish the message", err)
	}
	labhttp.WriteJSON(w, http.StatusAccepted, map[string]any{"stream": st, "message_id": id,
		"message": fmt.Sprintf("A message no consumer can decode, on %s (consumed by %s). It is never acknowledged, so each group claims it again "+
			"after %d ms (claim_idle_ms) until it has been delivered %d times (max_deliveries); then GET dead-letters lists it, once per group.",
			st, strings.Join(in.groupsOf(in.key(st)), " and "), in.cfg.claimIdle.Milliseconds(), in.cfg.maxDeliver)})
	return nil
}

// DeadLetter is an entry of GET dead-letters.
type DeadLetter struct {
	ID         string `json:"id"`
	Stream     string `json:"stream"`
	Group      string `json:"group"`
	OriginalID string `json:"original_id"`
	Deliveries string `json:"deliveries"`
	Type       string `json:"type"`
	Payload    string `json:"payload"`
}

// DeadLetters is GET dead-letters: how many, and the newest 20.
type DeadLetters struct {
	Count   int64        `json:"count"`
	Entries []DeadLetter `json:"entries"`
}

func (in *instance) handleDeadLetters(w http.ResponseWriter, r *http.Request) error {
	// One MULTI, so the count and the entries agree.
	var (
		rng *goredis.XMessageSliceCmd
		ln  *goredis.IntCmd
	)
	if _, err := in.rdb.TxPipelined(r.Context(), func(p goredis.Pipeliner) error {
		rng = p.XRevRangeN(r.Context(), in.key(stDeadLetters), "+", "-", 20)
		ln = p.XLen(r.Context(), in.key(stDeadLetters))
		return nil
	}); err != nil {
		return failure("read the dead letters", err)
	}
	out := DeadLetters{Count: ln.Val(), Entries: []DeadLetter{}}
	str := func(m goredis.XMessage, k string) string { s, _ := m.Values[k].(string); return s }
	for _, m := range rng.Val() {
		out.Entries = append(out.Entries, DeadLetter{ID: m.ID, Stream: str(m, "stream"), Group: str(m, "group"), OriginalID: str(m, "id"),
			Deliveries: str(m, "deliveries"), Type: str(m, "type"), Payload: str(m, "e")})
	}
	labhttp.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (in *instance) handleStats(w http.ResponseWriter, r *http.Request) error {
	s, err := in.State(r.Context())
	if err != nil {
		return failure("read the stats", err)
	}
	labhttp.WriteJSON(w, http.StatusOK, s)
	return nil
}
