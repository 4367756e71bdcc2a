package sandbox

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/client"
)

// Source is a learner's unpacked archive.
type Source struct {
	// Dir holds the sources.
	Dir string
	// Language is "go" or "python" when the workbook writes the
	// Dockerfile (the sources need go.mod, or app.py, at their top), ""
	// when Dir holds a Dockerfile, whose FROM lines must name an offered
	// base image.
	Language string
}

// Image is a built image.
type Image struct {
	ID string
	// Log is the build's output (its last LogKeep bytes).
	Log string
}

// The limits of a build's output and context.
const (
	buildOutputMax  = 8 << 20
	buildContextMax = 64 << 20
	// dockerfileName is the name the workbook's Dockerfile has in the
	// build context, beside the learner's files.
	dockerfileName = ".workbook.Dockerfile"
)

// Build builds src into an image labelled for job: without network,
// within the build timeout and BuildMemory, its output capped. A failure the
// learner caused is a *LearnerError carrying the build log.
func (e *Engine) Build(ctx context.Context, job string, src Source) (Image, error) {
	if err := e.checkBaseImages(ctx); err != nil {
		return Image{}, err
	}
	dockerfile, err := e.dockerfile(src, e.labels(job, time.Time{}))
	if err != nil {
		return Image{}, err
	}
	bctx, cancel := context.WithTimeout(ctx, e.o.BuildTimeout)
	defer cancel()
	img, err := e.runBuild(bctx, cancel, job, src.Dir, dockerfile)
	if err == nil {
		e.log.Info("sandbox: built", "job", job, "image", img.ID, "language", src.Language)
		return img, nil
	}
	e.removeJob(job)
	var le *LearnerError
	switch {
	case errors.As(err, &le):
	case ctx.Err() != nil:
		return Image{}, ctx.Err()
	case errors.Is(bctx.Err(), context.DeadlineExceeded):
		le = learnerf(img.Log, "Your service did not finish building within %s.", e.o.BuildTimeout)
	default:
		return Image{}, fmt.Errorf("sandbox: build: %w", err)
	}
	if le.Log == "" {
		le.Log = img.Log
	}
	return Image{Log: le.Log}, le
}

// runBuild sends the context and reads the build's output. A context the
// learner's archive cannot make is a LearnerError.
func (e *Engine) runBuild(ctx context.Context, stop func(), job, dir, dockerfile string) (Image, error) {
	pr, pw := io.Pipe()
	werr := make(chan error, 1)
	go func() {
		err := writeContext(pw, dir, dockerfile)
		pw.CloseWithError(err)
		werr <- err
	}()
	img, err := func() (Image, error) {
		defer pr.Close()
		res, err := e.cli.ImageBuild(ctx, pr, client.ImageBuildOptions{
			Dockerfile: dockerfileName, NoCache: true, Remove: true, ForceRemove: true,
			NetworkMode: "none", Memory: BuildMemory, MemorySwap: BuildMemory,
			CPUPeriod: 100000, CPUQuota: 100000, Version: build.BuilderV1,
			Labels: e.labels(job, time.Time{}),
		})
		if cerrdefs.IsInvalidArgument(err) {
			msg := strings.TrimPrefix(err.Error(), "Error response from daemon: ")
			return Image{}, learnerf("", "Docker could not read your Dockerfile: %s.", strings.TrimSuffix(msg, "."))
		}
		if err != nil {
			return Image{}, err
		}
		defer res.Body.Close()
		return readBuild(res.Body, stop)
	}()
	var cf contextFailure
	if errors.As(<-werr, &cf) {
		return img, cf.le
	}
	return img, err
}

// checkBaseImages fails (the environment's fault) when a base image is
// missing.
func (e *Engine) checkBaseImages(ctx context.Context) error {
	for _, img := range e.Images() {
		if _, err := e.cli.ImageInspect(ctx, img); err != nil {
			return fmt.Errorf("sandbox: the base image %s is not on the Docker host (scripts/images.sh sandbox builds it): %w", img, err)
		}
	}
	return nil
}

// dockerfile is the Dockerfile to build src with.
func (e *Engine) dockerfile(src Source, labels map[string]string) (string, error) {
	offered := offeredNames(e.o.GoImage, e.o.PythonImage)
	if src.Language == "" {
		b, err := os.ReadFile(filepath.Join(src.Dir, "Dockerfile"))
		if err != nil {
			return "", learnerf("", "Your archive has no Dockerfile at its top, and no language was given for the workbook to build it with.")
		}
		return checkDockerfile(string(b), offered, labels)
	}
	base := map[string]string{LangGo: e.o.GoImage, LangPython: e.o.PythonImage}[src.Language]
	text, err := supplied(src.Language, base)
	if err != nil {
		return "", err
	}
	if fi, err := os.Stat(filepath.Join(src.Dir, entryFile[src.Language])); err != nil || !fi.Mode().IsRegular() {
		return "", learnerf("", "Your %s sources need %s at the top of the archive.", langName(src.Language), entryFile[src.Language])
	}
	return checkDockerfile(text, offered, labels)
}

func langName(lang string) string {
	if lang == LangGo {
		return "Go"
	}
	return "Python"
}

// contextFailure is a learner's archive that cannot be a build context.
type contextFailure struct{ le *LearnerError }

func (c contextFailure) Error() string { return c.le.Reason }

// writeContext writes dir and the Dockerfile as a tar stream: regular
// files and directories only.
func writeContext(w io.Writer, dir, dockerfile string) error {
	tw := tar.NewWriter(w)
	var total int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil || rel == "." || rel == dockerfileName {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() && !info.IsDir() {
			return contextFailure{learnerf("", "Your archive holds %s, which is neither a file nor a directory.", filepath.ToSlash(rel))}
		}
		total += info.Size()
		if total > buildContextMax {
			return contextFailure{learnerf("", "Your sources are larger than %s.", size(buildContextMax))}
		}
		return addFile(tw, path, filepath.ToSlash(rel), info)
	})
	if err != nil {
		return err
	}
	hdr := &tar.Header{Name: dockerfileName, Mode: 0o644, Size: int64(len(dockerfile)), Typeflag: tar.TypeReg}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if _, err := io.WriteString(tw, dockerfile); err != nil {
		return err
	}
	return tw.Close()
}

func addFile(tw *tar.Writer, path, name string, info fs.FileInfo) error {
	hdr := &tar.Header{Name: name, Mode: int64(info.Mode().Perm() | 0o444), ModTime: info.ModTime()}
	if info.IsDir() {
		hdr.Typeflag, hdr.Name, hdr.Mode = tar.TypeDir, name+"/", int64(info.Mode().Perm()|0o555)
		return tw.WriteHeader(hdr)
	}
	hdr.Typeflag, hdr.Size = tar.TypeReg, info.Size()
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err = io.CopyN(tw, f, info.Size())
	return err
}

// buildMessage is one message of the build's JSON stream.
type buildMessage struct {
	Stream      string `json:"stream"`
	Error       string `json:"error"`
	ErrorDetail *struct {
		Message string `json:"message"`
	} `json:"errorDetail"`
	Aux *struct {
		ID string `json:"ID"`
	} `json:"aux"`
}

var builtLine = regexp.MustCompile(`Successfully built ([0-9a-f]{12,64})`)

// readBuild reads the build's output until it ends. It returns the image,
// or a LearnerError when the build failed, or the stream's error; the
// Image's Log is set either way. stop ends the build when its output
// grows past buildOutputMax.
func readBuild(r io.Reader, stop func()) (Image, error) {
	log := newTail(LogKeep)
	dec := json.NewDecoder(r)
	var id, failure string
	for {
		var m buildMessage
		if err := dec.Decode(&m); err != nil {
			if err == io.EOF {
				break
			}
			return Image{Log: log.String()}, err
		}
		_, _ = io.WriteString(log, m.Stream)
		if m.Aux != nil && m.Aux.ID != "" {
			id = m.Aux.ID
		}
		if sm := builtLine.FindStringSubmatch(m.Stream); sm != nil && id == "" {
			id = sm[1]
		}
		if m.Error != "" {
			failure = m.Error
			_, _ = io.WriteString(log, m.Error+"\n")
		}
		if log.total > buildOutputMax {
			stop()
			return Image{Log: log.String()}, learnerf(log.String(), "Your build wrote more than %s of output, so it was stopped.", size(buildOutputMax))
		}
	}
	img := Image{ID: id, Log: log.String()}
	if failure != "" {
		return img, learnerf(img.Log, "Your service did not build: %s", buildFailure(failure))
	}
	if id == "" {
		return img, errors.New("the build ended without naming an image")
	}
	return img, nil
}

// buildFailure is the build's error as the end of a sentence.
func buildFailure(msg string) string {
	msg = strings.TrimSpace(msg)
	if m := regexp.MustCompile(`^The command '(.*)' returned a non-zero code: (\d+)$`).FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("the step %s ended with exit code %s. The build log shows why.", strings.TrimPrefix(m[1], "/bin/sh -c "), m[2])
	}
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}
