package shop

import (
	"context"
	"fmt"
	"strings"
)

// Product is one catalogue entry.
type Product struct {
	ID    int    `json:"product_id"`
	Name  string `json:"name"`
	Price int64  `json:"price_cents"`
}

// Catalogue is the shop's products, ids 1 to len(Catalogue).
var Catalogue = []Product{
	{1, "Espresso beans, 1 kg", 2450},
	{2, "Ceramic mug", 1200},
	{3, "Pour-over kettle", 5900},
	{4, "Burr grinder", 14900},
	{5, "Paper filters, 100", 650},
}

// MaxQty bounds one order's quantity.
const MaxQty = 10

func productOK(id int) bool { return id >= 1 && id <= len(Catalogue) }

// tables are the lab's tables, shared by all instances and keyed by the
// instance column; Close deletes the instance's rows.
var tables = []string{"shop_lab_inventory", "shop_lab_orders", "shop_lab_idempotency", "shop_lab_outbox",
	"shop_lab_inbox", "shop_lab_reservations", "shop_lab_payments", "shop_lab_provider_events", "shop_lab_steps"}

// schema is the DDL; %s is the dialect's auto-increment primary key.
var schema = []string{
	`CREATE TABLE IF NOT EXISTS shop_lab_inventory (
		instance TEXT NOT NULL,
		product_id INTEGER NOT NULL,
		initial BIGINT NOT NULL,
		available BIGINT NOT NULL,
		reserved BIGINT NOT NULL,
		sold BIGINT NOT NULL,
		PRIMARY KEY (instance, product_id))`,
	`CREATE TABLE IF NOT EXISTS shop_lab_orders (
		instance TEXT NOT NULL,
		order_id TEXT NOT NULL,
		product_id INTEGER NOT NULL,
		qty INTEGER NOT NULL,
		amount BIGINT NOT NULL,
		status TEXT NOT NULL,
		reason TEXT NOT NULL,
		created_ms BIGINT NOT NULL,
		settled_ms BIGINT,
		PRIMARY KEY (instance, order_id))`,
	`CREATE INDEX IF NOT EXISTS shop_lab_orders_status ON shop_lab_orders (instance, status)`,
	// The order service's idempotency keys, in the same transaction as the
	// order they created.
	`CREATE TABLE IF NOT EXISTS shop_lab_idempotency (
		instance TEXT NOT NULL,
		idem_key TEXT NOT NULL,
		body_hash TEXT NOT NULL,
		order_id TEXT NOT NULL,
		PRIMARY KEY (instance, idem_key))`,
	`CREATE TABLE IF NOT EXISTS shop_lab_outbox (
		id %s,
		instance TEXT NOT NULL,
		stream TEXT NOT NULL,
		type TEXT NOT NULL,
		event_id TEXT NOT NULL,
		order_id TEXT NOT NULL,
		payload TEXT NOT NULL,
		created_ms BIGINT NOT NULL,
		published_ms BIGINT)`,
	`CREATE INDEX IF NOT EXISTS shop_lab_outbox_unpublished ON shop_lab_outbox (instance, published_ms, id)`,
	// Each consumer group's inbox: the messages it has processed, by id,
	// written in the same transaction as their effects, and when (rows
	// older than dedup_retention_ms are swept away).
	`CREATE TABLE IF NOT EXISTS shop_lab_inbox (
		instance TEXT NOT NULL,
		service TEXT NOT NULL,
		event_id TEXT NOT NULL,
		at_ms BIGINT NOT NULL,
		PRIMARY KEY (instance, service, event_id))`,
	`CREATE INDEX IF NOT EXISTS shop_lab_inbox_age ON shop_lab_inbox (instance, at_ms)`,
	`CREATE TABLE IF NOT EXISTS shop_lab_reservations (
		id %s,
		instance TEXT NOT NULL,
		order_id TEXT NOT NULL,
		product_id INTEGER NOT NULL,
		qty INTEGER NOT NULL,
		state TEXT NOT NULL)`,
	`CREATE INDEX IF NOT EXISTS shop_lab_reservations_order ON shop_lab_reservations (instance, order_id)`,
	// The shop's payment records: one row per capture it made.
	`CREATE TABLE IF NOT EXISTS shop_lab_payments (
		id %s,
		instance TEXT NOT NULL,
		order_id TEXT NOT NULL,
		auth_id TEXT NOT NULL,
		capture_id TEXT NOT NULL,
		amount BIGINT NOT NULL)`,
	`CREATE INDEX IF NOT EXISTS shop_lab_payments_order ON shop_lab_payments (instance, order_id)`,
	// The payment service's record of provider callbacks, by event id.
	`CREATE TABLE IF NOT EXISTS shop_lab_provider_events (
		instance TEXT NOT NULL,
		event_id TEXT NOT NULL,
		PRIMARY KEY (instance, event_id))`,
	`CREATE TABLE IF NOT EXISTS shop_lab_steps (
		id %s,
		instance TEXT NOT NULL,
		order_id TEXT NOT NULL,
		step TEXT NOT NULL,
		service TEXT NOT NULL,
		at_ms BIGINT NOT NULL,
		outcome TEXT NOT NULL,
		compensation INTEGER NOT NULL)`,
	`CREATE INDEX IF NOT EXISTS shop_lab_steps_order ON shop_lab_steps (instance, order_id, id)`,
}

// schemaObjects are the names of the tables and indexes schema creates.
func schemaObjects() []string {
	out := append([]string(nil), tables...)
	for _, q := range schema {
		if rest, ok := strings.CutPrefix(q, "CREATE INDEX IF NOT EXISTS "); ok {
			name, _, _ := strings.Cut(rest, " ")
			out = append(out, name)
		}
	}
	return out
}

// schemaReady reports whether every table and index exists already.
func (in *instance) schemaReady(ctx context.Context) (bool, error) {
	names := schemaObjects()
	args := make([]any, len(names))
	marks := make([]string, len(names))
	for i, n := range names {
		args[i], marks[i] = n, "?"
	}
	q := `SELECT COUNT(*) FROM sqlite_master WHERE name IN (` + strings.Join(marks, ", ") + `)`
	if in.env.Dialect == "postgres" {
		q = `SELECT COUNT(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = current_schema() AND c.relname IN (` + strings.Join(marks, ", ") + `)`
	}
	var have int
	if err := in.env.DB.QueryRowContext(ctx, in.env.Rebind(q), args...).Scan(&have); err != nil {
		return false, err
	}
	return have == len(names), nil
}

// migrate creates the tables, serialised with other labs' launches. Once
// they exist it runs no DDL: on PostgreSQL even CREATE INDEX IF NOT EXISTS
// locks its table first, and could deadlock with the transactions of
// shops already running.
func (in *instance) migrate(ctx context.Context) error {
	if ready, err := in.schemaReady(ctx); err != nil || ready {
		return err
	}
	serial := "INTEGER PRIMARY KEY AUTOINCREMENT"
	if in.env.Dialect == "postgres" {
		serial = "BIGSERIAL PRIMARY KEY"
	}
	ddl := make([]string, len(schema))
	for i, q := range schema {
		if strings.Contains(q, "%s") {
			q = fmt.Sprintf(q, serial)
		}
		ddl[i] = q
	}
	return in.env.CreateTables(ctx, ddl...)
}

// seed replaces the instance's rows with a fresh shop: every product with
// initial_stock units available.
func (in *instance) seed(ctx context.Context) error {
	if err := in.deleteRows(ctx); err != nil {
		return err
	}
	tx, err := in.env.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	q := in.env.Rebind(`INSERT INTO shop_lab_inventory (instance, product_id, initial, available, reserved, sold) VALUES (?, ?, ?, ?, 0, 0)`)
	for _, p := range Catalogue {
		if _, err := tx.ExecContext(ctx, q, in.env.Instance, p.ID, in.cfg.initialStock, in.cfg.initialStock); err != nil {
			return fmt.Errorf("seed inventory: %w", err)
		}
	}
	return tx.Commit()
}

// deleteRows removes every row of the instance.
func (in *instance) deleteRows(ctx context.Context) error {
	tx, err := in.env.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	for _, t := range tables {
		if _, err := tx.ExecContext(ctx, in.env.Rebind(`DELETE FROM `+t+` WHERE instance = ?`), in.env.Instance); err != nil {
			return fmt.Errorf("delete rows of %s: %w", t, err)
		}
	}
	return tx.Commit()
}
