package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// exec runs cmd in a running container and returns its output (stdout
// and stderr together) and exit code.
func (e *Engine) exec(ctx context.Context, id string, env []string, cmd ...string) (string, int, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ex, err := e.cli.ExecCreate(ctx, id, client.ExecCreateOptions{Cmd: cmd, Env: env, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return "", -1, err
	}
	att, err := e.cli.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{})
	if err != nil {
		return "", -1, err
	}
	defer att.Close()
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		_, err := stdcopy.StdCopy(&out, &out, att.Reader)
		done <- err
	}()
	select {
	case err = <-done:
	case <-ctx.Done():
		att.Close()
		<-done
		return out.String(), -1, ctx.Err()
	}
	if err != nil {
		return out.String(), -1, err
	}
	in, err := e.cli.ExecInspect(ctx, ex.ID, client.ExecInspectOptions{})
	if err != nil {
		return out.String(), -1, err
	}
	if in.Running {
		return out.String(), -1, fmt.Errorf("the command %v still runs", cmd)
	}
	return out.String(), in.ExitCode, nil
}

// waitStopped waits until the container is not running.
func (e *Engine) waitStopped(ctx context.Context, id string) error {
	w := e.cli.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case <-w.Result:
		return nil
	case err := <-w.Error:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// isNotFound reports whether err says a Docker object does not exist.
func isNotFound(err error) bool { return cerrdefs.IsNotFound(err) }
