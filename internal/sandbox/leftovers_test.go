package sandbox_test

import (
	"context"
	"testing"

	"github.com/moby/moby/client"

	"github.com/sdworkbook/workbook/internal/containers"
)

// assertNothingLeft fails the test when a container, network or image
// labelled for job remains.
func assertNothingLeft(t *testing.T, job string) {
	t.Helper()
	if n := labelled(t, job); n != "" {
		t.Errorf("left behind for job %s: %s", job, n)
	}
}

// labelled describes what Docker still holds labelled for job ("" when
// nothing).
func labelled(t *testing.T, job string) string {
	t.Helper()
	ctx := context.Background()
	cli, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	f := client.Filters{}.Add("label", containers.LabelJob+"="+job)
	cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	ns, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	is, err := cli.ImageList(ctx, client.ImageListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs.Items)+len(ns.Items)+len(is.Items) == 0 {
		return ""
	}
	var names []string
	for _, c := range cs.Items {
		names = append(names, "container "+c.Names[0])
	}
	for _, n := range ns.Items {
		names = append(names, "network "+n.Name)
	}
	for _, i := range is.Items {
		names = append(names, "image "+i.ID)
	}
	return join(names)
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ", "
		}
		out += x
	}
	return out
}
