package app_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/grader"
	"github.com/sdworkbook/workbook/internal/app"
	"github.com/sdworkbook/workbook/internal/config"
	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// site is the smallest Site: it counts what the app asks of it.
type site struct {
	http.Handler
	app     *app.App
	flushed int
}

func (s *site) CleanSessions(ctx context.Context, _ time.Duration) { <-ctx.Done() }
func (s *site) FlushMail(context.Context) error                    { s.flushed++; return nil }
func (s *site) SetupLink(context.Context, string) (string, error)  { return "", nil }
func (s *site) EndStreams()                                        {}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// Open wires the parts from the configuration on each backend, with the
// overrides tests use; the site is built last, from the parts; Close lets
// go of them (the database no longer answers) and flushes the site's mail.
func TestOpenWiresThePartsAndCloseLetsGo(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			cfg, err := config.Load(config.MapEnv(map[string]string{"WORKBOOK_DATA_DIR": b.DataDir,
				"DATABASE_URL": b.DatabaseURL, "REDIS_URL": b.RedisURL}))
			if err != nil {
				t.Fatal(err)
			}
			clock := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
			s := &site{Handler: http.NotFoundHandler()}
			a, err := app.Open(context.Background(), cfg, app.Options{
				Logger: quiet(), Now: func() time.Time { return clock }, Registry: labs.MustRegistry(),
				Grader: func(o *grader.Options) { o.Workers = 0 },
				Site:   func(a *app.App) (app.Site, error) { s.app = a; return s, nil },
			})
			if err != nil {
				t.Fatal(err)
			}
			if s.app != a || a.Site != s || a.Store == nil || a.Redis == nil || a.Library == nil || a.Labs == nil ||
				a.Grader == nil || a.Hasher == nil || !a.Now().Equal(clock) || len(a.Labs.Labs()) != 0 {
				t.Fatalf("wired: %+v", a)
			}
			if err := a.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			if err := a.Store.Ping(context.Background()); err != nil {
				t.Fatal(err)
			}
			a.Close()
			if err := a.Store.Ping(context.Background()); err == nil {
				t.Error("the database still answers after Close")
			}
			if s.flushed != 1 {
				t.Errorf("the site's mail was flushed %d times, want once", s.flushed)
			}
		})
	}
}

// Without a site (a grader-only process) no lessons are read; a site
// that cannot be built closes what was opened and says why.
func TestOpenWithoutSiteAndFailingSite(t *testing.T) {
	cfg, err := config.Load(config.MapEnv(map[string]string{"WORKBOOK_DATA_DIR": t.TempDir()}))
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Open(context.Background(), cfg, app.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if a.Library != nil || a.Site != nil || len(a.Registry.IDs()) == 0 {
		t.Errorf("grader-only: library %v, site %v, labs %v", a.Library, a.Site, a.Registry.IDs())
	}
	// The hasher wired by default hashes at the server's cost: argon2id
	// at OWASP's minimum profile, 19 MiB and 2 passes.
	if h, err := a.Hasher.Hash("a passphrase long enough"); err != nil || !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("default hasher: %.40q… %v", h, err)
	}
	a.Close()

	var opened *app.App
	boom := errors.New("boom")
	_, err = app.Open(context.Background(), cfg, app.Options{Logger: quiet(),
		Site: func(a *app.App) (app.Site, error) { opened = a; return nil, boom }})
	if !errors.Is(err, boom) {
		t.Fatalf("a failing site: %v", err)
	}
	if opened == nil || opened.Store.Ping(context.Background()) == nil {
		t.Error("a failed Open left the database open")
	}
	if _, err := app.Open(context.Background(), cfg, app.Options{}); err == nil {
		t.Error("Open without a logger")
	}
}
