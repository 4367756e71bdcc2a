package sandbox

import (
	"context"
	"errors"

	"github.com/moby/moby/client"
)

// removeJob removes what job created, in the background's own time.
func (e *Engine) removeJob(job string) {
	ctx, cancel := cleanupContext()
	defer cancel()
	if err := e.removeObjects(ctx, job); err != nil {
		e.log.Warn("sandbox: removing a job's leftovers", "job", job, "err", err)
	}
}

// removeObjects removes the containers, networks and images labelled
// with job.
func (e *Engine) removeObjects(ctx context.Context, job string) error {
	var errs []error
	cs, err := e.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: jobFilter(job)})
	errs = append(errs, err)
	for _, c := range cs.Items {
		_, err := e.cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		errs = append(errs, ignoreNotFound(err))
	}
	ns, err := e.cli.NetworkList(ctx, client.NetworkListOptions{Filters: jobFilter(job)})
	errs = append(errs, err)
	for _, n := range ns.Items {
		_, err := e.cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
		errs = append(errs, ignoreNotFound(err))
	}
	errs = append(errs, e.removeImages(ctx, jobFilter(job)))
	return errors.Join(errs...)
}

// removeImages removes the images filter selects, children before their
// parents (a build's steps are images too).
func (e *Engine) removeImages(ctx context.Context, filter client.Filters) error {
	var last error
	for range 10 {
		is, err := e.cli.ImageList(ctx, client.ImageListOptions{All: true, Filters: filter})
		if err != nil {
			return err
		}
		if len(is.Items) == 0 {
			return nil
		}
		last = nil
		for _, im := range is.Items {
			_, err := e.cli.ImageRemove(ctx, im.ID, client.ImageRemoveOptions{Force: true, PruneChildren: true})
			if err = ignoreNotFound(err); err != nil {
				last = err
			}
		}
	}
	return last
}

// ignoreNotFound is err unless it says the object is already gone.
func ignoreNotFound(err error) error {
	if err == nil || isNotFound(err) {
		return nil
	}
	return err
}
