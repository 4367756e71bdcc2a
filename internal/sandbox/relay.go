package sandbox

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// relay is the job's nginx: the checker's way in (one port published on
// 127.0.0.1; a request names its replica's slot in slotHeader) and the
// replicas' way to the downstream handler (the name "downstream", port 80,
// on the job's network).
type relay struct {
	id   string
	base string // http://127.0.0.1:PORT
	down *http.Server
}

// slotHeader names the replica slot a request through the relay is for;
// the relay removes it.
const slotHeader = "X-Workbook-Slot"

// relayPort is the relay's port for the checker inside its container.
const relayPort = "8000/tcp"

var (
	relayMemory int64 = 128 << 20
	relayPids   int64 = 64
)

// startRelay serves the downstream handler (when the job has one) on the
// default bridge's gateway address and starts the relay.
func (j *Job) startRelay(ctx context.Context) (*relay, error) {
	r := &relay{}
	downstream := ""
	if j.spec.Downstream != nil {
		if !j.e.local.IsValid() {
			return nil, errors.New("sandbox: this process has no address on the relay's network to serve the downstream dependency on (is the Docker engine remote?)")
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(j.e.local.String(), "0"))
		if err != nil {
			return nil, fmt.Errorf("sandbox: serve the downstream handler on %s: %w", j.e.local, err)
		}
		j.SetDownstream(j.spec.Downstream)
		r.down = &http.Server{Handler: http.HandlerFunc(j.serveDownstream), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = r.down.Serve(ln) }()
		downstream = ln.Addr().String()
	}
	p, _ := network.ParsePort(relayPort)
	hc := &container.HostConfig{
		NetworkMode: "bridge",
		SecurityOpt: []string{"no-new-privileges"},
		LogConfig:   container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "1m", "max-file": "1"}},
		Resources:   container.Resources{Memory: relayMemory, MemorySwap: relayMemory, PidsLimit: &relayPids},
	}
	if j.e.o.Network != "" {
		hc.NetworkMode = container.NetworkMode(j.e.o.Network)
	} else {
		hc.PortBindings = network.PortMap{p: {{HostIP: netip.MustParseAddr("127.0.0.1")}}}
	}
	res, err := j.e.cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: j.name + "-relay",
		Config: &container.Config{Image: j.e.o.RelayImage, Labels: j.labels, ExposedPorts: network.PortSet{p: {}},
			Entrypoint: []string{"nginx"}, Cmd: []string{"-g", "daemon off;", "-c", "/etc/nginx/relay.conf"}},
		HostConfig: hc,
	})
	if err != nil {
		r.closeDownstream()
		return nil, fmt.Errorf("sandbox: create the relay: %w", err)
	}
	r.id = res.ID
	if err := j.configureRelay(ctx, r, downstream); err != nil {
		r.closeDownstream()
		return nil, err
	}
	return r, nil
}

// configureRelay writes the relay's configuration, joins it to the job's
// network, starts it and waits until it answers.
func (j *Job) configureRelay(ctx context.Context, r *relay, downstream string) error {
	conf := relayConfig(j, downstream)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	_ = tw.WriteHeader(&tar.Header{Name: "relay.conf", Mode: 0o644, Size: int64(len(conf)), Typeflag: tar.TypeReg})
	_, _ = tw.Write([]byte(conf))
	_ = tw.Close()
	if _, err := j.e.cli.CopyToContainer(ctx, r.id, client.CopyToContainerOptions{DestinationPath: "/etc/nginx", Content: &buf}); err != nil {
		return fmt.Errorf("sandbox: configure the relay: %w", err)
	}
	if _, err := j.e.cli.NetworkConnect(ctx, j.netName, client.NetworkConnectOptions{Container: r.id,
		EndpointConfig: &network.EndpointSettings{IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: j.addr(hostRelay)}, Aliases: []string{"downstream"}}}); err != nil {
		return fmt.Errorf("sandbox: join the relay to the job's network: %w", err)
	}
	if _, err := j.e.cli.ContainerStart(ctx, r.id, client.ContainerStartOptions{}); err != nil {
		return fmt.Errorf("sandbox: start the relay: %w", err)
	}
	in, err := j.e.cli.ContainerInspect(ctx, r.id, client.ContainerInspectOptions{})
	if err != nil {
		return fmt.Errorf("sandbox: inspect the relay: %w", err)
	}
	base, err := j.relayBase(in.Container.NetworkSettings)
	if err != nil {
		return err
	}
	r.base = base
	return j.waitRelay(ctx, r)
}

// relayBase is where the checker reaches the relay: its published port on
// 127.0.0.1, or its address on the engine's network.
func (j *Job) relayBase(ns *container.NetworkSettings) (string, error) {
	if ns == nil {
		return "", errors.New("sandbox: the relay has no network settings")
	}
	if j.e.o.Network != "" {
		ep := ns.Networks[j.e.o.Network]
		if ep == nil || !ep.IPAddress.IsValid() {
			return "", fmt.Errorf("sandbox: the relay has no address on %s", j.e.o.Network)
		}
		return "http://" + net.JoinHostPort(ep.IPAddress.String(), "8000"), nil
	}
	p, _ := network.ParsePort(relayPort)
	for _, b := range ns.Ports[p] {
		if b.HostPort != "" {
			return "http://127.0.0.1:" + b.HostPort, nil
		}
	}
	return "", errors.New("sandbox: the relay's port was not published")
}

// waitRelay waits until the relay answers a request without a slot (421).
func (j *Job) waitRelay(ctx context.Context, r *relay) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c := &http.Client{Timeout: 2 * time.Second}
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.base+"/", nil)
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusMisdirectedRequest {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("sandbox: the relay did not answer: %w (its log: %s)", last, lastLines(j.e.containerLog(context.Background(), r.id), 5))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (r *relay) closeDownstream() {
	if r != nil && r.down != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if r.down.Shutdown(ctx) != nil {
			_ = r.down.Close()
		}
	}
}

// relayConfig is nginx's configuration: port 8000 proxies to the replica
// slot named in slotHeader (421 without one), port 80 to the downstream
// handler at downstream (503 when the job has none). It never retries a
// request elsewhere and buffers nothing, so what the checker sees is what
// the replica answered.
func relayConfig(j *Job, downstream string) string {
	var slots strings.Builder
	for s := range MaxReplicas {
		fmt.Fprintf(&slots, "\t\ts%d %s;\n", s, net.JoinHostPort(j.addr(hostReplica0+s).String(), "8080"))
	}
	proxy := `proxy_http_version 1.1;
			proxy_set_header Host $http_host;
			proxy_set_header Connection "";
			proxy_set_header ` + slotHeader + ` "";
			proxy_connect_timeout 3s;
			proxy_read_timeout 600s;
			proxy_send_timeout 600s;
			proxy_buffering off;
			proxy_request_buffering off;
			proxy_next_upstream off;
			proxy_intercept_errors off;`
	down := "return 503;"
	if downstream != "" {
		down = proxy + "\n\t\t\tproxy_pass http://" + downstream + ";"
	}
	return `user www-data;
worker_processes 1;
pid /tmp/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_max_body_size 16m;
	server_tokens off;
	map $http_` + strings.ToLower(strings.ReplaceAll(slotHeader, "-", "_")) + ` $replica {
		default "";
` + slots.String() + `	}
	server {
		listen ` + strconv.Itoa(8000) + `;
		location / {
			if ($replica = "") { return 421; }
			` + proxy + `
			proxy_pass http://$replica;
		}
	}
	server {
		listen 80 default_server;
		location / {
			` + down + `
		}
	}
}
`
}
