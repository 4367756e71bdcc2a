package testenv

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ChromiumPath is Debian's Chromium, or WORKBOOK_CHROMIUM.
func ChromiumPath() string {
	if p := os.Getenv("WORKBOOK_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return "/usr/bin/chromium"
}

// Browser starts a headless Chromium for one test and returns a context for
// chromedp actions. It fails the test when Chromium is missing
// (scripts/test.sh installs it). Every action must finish within timeout.
func Browser(tb testing.TB, timeout time.Duration) context.Context {
	tb.Helper()
	path := ChromiumPath()
	if _, err := os.Stat(path); err != nil {
		tb.Fatalf("testenv: Chromium not found at %s (scripts/test.sh installs Debian's chromium): %v", path, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // root in a container has no usable sandbox
		chromedp.DisableGPU,
		chromedp.UserDataDir(tb.TempDir()),
		chromedp.WindowSize(1280, 900),
		// The network is closed: no background fetches, updates or sync.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	tb.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	return ctx
}

// ArtifactDir is where tests leave screenshots: WORKBOOK_ARTIFACTS, or
// test-artifacts at the module root.
func ArtifactDir(tb testing.TB) string {
	tb.Helper()
	dir := os.Getenv("WORKBOOK_ARTIFACTS")
	if dir == "" {
		wd, _ := os.Getwd()
		for d := wd; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				dir = filepath.Join(d, "test-artifacts")
				break
			}
			if filepath.Dir(d) == d {
				dir = filepath.Join(wd, "test-artifacts")
				break
			}
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// Screenshot saves a full-page PNG of the current page as name.png in the
// artifact directory and returns its path.
func Screenshot(tb testing.TB, ctx context.Context, name string) string {
	tb.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.Fatalf("screenshot %s: %v", name, err)
	}
	p := filepath.Join(ArtifactDir(tb), name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

// ViewportShot saves a PNG of what the window shows (not the whole page)
// as name.png in the artifact directory and returns its path.
func ViewportShot(tb testing.TB, ctx context.Context, name string) string {
	tb.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.Fatalf("screenshot %s: %v", name, err)
	}
	p := filepath.Join(ArtifactDir(tb), name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}
