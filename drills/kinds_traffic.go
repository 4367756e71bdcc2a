package drills

import "math/rand/v2"

// kinds is every kind, in the order the drills page lists them.
var kinds = []Kind{
	{ID: "peak-qps", Title: "Requests per second at peak", Summary: "Daily users and their requests to the average and peak load.", gen: genPeakQPS},
	{ID: "read-write", Title: "Reads and writes", Summary: "Daily actions and a read:write ratio to peak reads and writes a second.", gen: genReadWrite},
	{ID: "servers-needed", Title: "Servers needed", Summary: "Peak load, a server's measured capacity and a target utilisation to a fleet size.", gen: genServers},
	{ID: "bandwidth", Title: "Bandwidth", Summary: "Page views and page weight to average and peak egress.", gen: genBandwidth},
	{ID: "storage-per-year", Title: "Storage per year", Summary: "Writes, record size and copies to the data added a day and a year.", gen: genStorage},
	{ID: "video-storage", Title: "Video storage with retention", Summary: "Uploads, length, bitrate and how long they are kept to storage a day and in all.", gen: genVideo},
	{ID: "cache-size", Title: "Cache for the hot 20%", Summary: "Distinct items read a day and their size to a cache's memory and nodes.", gen: genCache},
	{ID: "read-replicas", Title: "Read replicas needed", Summary: "Reads, writes and a node's capacity to a replica count, replaying writes included.", gen: genReplicas},
	{ID: "queue-backlog", Title: "Queue backlog and consumers", Summary: "A burst against a consumer group: the backlog, the time to drain it, the consumers to keep up.", gen: genQueue},
	{ID: "shards-needed", Title: "Shards needed", Summary: "Years of writes against a shard's size and write limits.", gen: genShards},
	{ID: "url-keyspace", Title: "URL shortener key space", Summary: "Links created over the years to the number of codes and a code's length in base 62.", gen: genKeyspace},
	{ID: "timeline-fanout", Title: "Timeline fan-out", Summary: "Posts and followers to fan-out writes at peak and the memory of capped timelines.", gen: genFanout},
	{ID: "limiter-memory", Title: "Rate limiter memory", Summary: "Active clients to a fixed window's and a sliding log's memory in Redis.", gen: genLimiter},
}

// dailyUsers draws a number of daily active users.
func dailyUsers(r *rand.Rand) float64 {
	return pick(r, 2e6, 5e6, 10e6, 20e6, 40e6, 50e6, 80e6, 100e6, 200e6, 300e6, 500e6)
}

func genPeakQPS(p *Problem, r *rand.Rand) {
	dau, per, peak := dailyUsers(r), pick(r, 2., 3, 5, 8, 10, 15, 20, 30, 50), pick(r, 2., 3, 4, 5)
	dauT := p.in("daily_users", dau, Count(dau))
	perT := p.in("requests_per_user", per, Num(per))
	peakT := p.in("peak_factor", peak, Num(peak))
	p.say(sprintf("A service has %s daily active users; each makes %s requests a day.", dauT, perT),
		sprintf("At the busiest hour, traffic is %s times the day's average.", peakT))
	daily := dau * per
	avg := daily / day
	p.ask("average", "Average requests per second", unitRequests, avg)
	p.ask("peak", "Peak requests per second", unitRequests, avg*peak)
	p.step(sprintf("Requests a day: %s × %s = %s.", dauT, perT, Sci(daily)),
		sprintf("A day ≈ 10⁵ s, so the average is %s ÷ 10⁵ ≈ %s requests/s; with 86,400 s exactly, %s.", Sci(daily), Num(daily/1e5), p.text("average")),
		sprintf("Peak: %s × %s ≈ %s.", Num(avg), peakT, p.text("peak")))
}

func genServers(p *Problem, r *rand.Rand) {
	dau, per, peak := dailyUsers(r), pick(r, 5., 10, 20, 50), pick(r, 2., 3, 5)
	util := pick(r, 0.5, 0.6, 0.7)
	peakQPS := dau * per / day * peak
	// A capacity that needs a few servers at least, so rounding up matters.
	capacity := 200.0
	for _, c := range []float64{5000, 2000, 1000, 500} {
		if peakQPS/(c*util) >= 3 {
			capacity = c
			break
		}
	}
	dauT := p.in("daily_users", dau, Count(dau))
	perT := p.in("requests_per_user", per, Num(per))
	peakT := p.in("peak_factor", peak, Num(peak))
	capT := p.in("server_capacity", capacity, Num(capacity))
	utilT := p.in("utilisation", util, Num(util*100)+"%")
	p.say(sprintf("%s daily active users make %s requests each a day; the busiest hour carries %s times the average.", dauT, perT, peakT),
		sprintf("A load test measured one application server at %s requests/s, and you run each at no more than %s of that.", capT, utilT))
	p.ask("peak", "Peak requests per second", unitRequests, peakQPS)
	per1 := capacity * util
	p.ask("servers", "Servers needed at peak", unitServers, peakQPS/per1)
	p.step(sprintf("Requests a day: %s × %s = %s; a day ≈ 10⁵ s, so about %s requests/s on average (86,400 s: %s).",
		dauT, perT, Sci(dau*per), Num(dau*per/1e5), Num(dau*per/day)),
		sprintf("Peak: × %s ≈ %s.", peakT, p.text("peak")),
		sprintf("One server at %s of %s carries %s requests/s.", utilT, capT, Num(per1)),
		sprintf("Servers: %s ÷ %s = %s, rounded up: %s.", Num(peakQPS), Num(per1), Num(peakQPS/per1), p.text("servers")))
}

func genBandwidth(p *Problem, r *rand.Rand) {
	dau, views, peak := dailyUsers(r), pick(r, 5., 10, 20, 50), pick(r, 2., 3, 4)
	size := pick(r, 200e3, 500e3, 1e6, 2e6, 3e6)
	dauT := p.in("daily_users", dau, Count(dau))
	viewsT := p.in("views_per_user", views, Num(views))
	sizeT := p.in("page_bytes", size, Bytes(size))
	peakT := p.in("peak_factor", peak, Num(peak))
	p.say(sprintf("%s daily active users view %s pages each a day; a page with its images weighs %s.", dauT, viewsT, sizeT),
		sprintf("The busiest hour carries %s times the average. Nothing is served from a CDN.", peakT))
	daily := dau * views * size
	avg := daily / day
	p.ask("average", "Average egress", unitMBps, avg/1e6)
	p.ask("peak", "Peak egress", unitGbps, avg*peak*8/1e9)
	p.step(sprintf("Bytes a day: %s × %s × %s = %s bytes (%s).", dauT, viewsT, sizeT, Sci(daily), Bytes(daily)),
		sprintf("A day ≈ 10⁵ s: about %s; with 86,400 s, %s.", Bytes(daily/1e5)+"/s", p.text("average")),
		sprintf("Peak: × %s = %s/s, and a byte is 8 bits: %s.", peakT, Bytes(avg*peak), p.text("peak")))
}

func genFanout(p *Problem, r *rand.Rand) {
	dau := pick(r, 10e6, 50e6, 100e6, 200e6, 300e6)
	posts, followers, peak := pick(r, 0.1, 0.2, 0.5, 1, 2), pick(r, 100., 200, 300, 500), pick(r, 2., 3, 5)
	capN, entry := pick(r, 200., 500, 800), pick(r, 24., 32, 40, 64)
	dauT := p.in("daily_users", dau, Count(dau))
	postsT := p.in("posts_per_user", posts, Num(posts))
	follT := p.in("followers", followers, Num(followers))
	peakT := p.in("peak_factor", peak, Num(peak))
	capT := p.in("timeline_cap", capN, Num(capN))
	entryT := p.in("entry_bytes", entry, Num(entry))
	p.say(sprintf("%s daily active users post %s times each a day on average, and a post goes to %s followers' timelines (fan-out on write).", dauT, postsT, follT),
		sprintf("The busiest hour carries %s times the average.", peakT),
		sprintf("Every daily user's timeline is a capped list of the newest %s post ids in Redis, about %s bytes an entry.", capT, entryT))
	writes := dau * posts * followers
	p.ask("peak_writes", "Fan-out writes per second at peak", unitWrites, writes/day*peak)
	mem := dau * capN * entry
	p.ask("memory", "Memory for the timelines", unitTB, mem/1e12)
	p.step(sprintf("Posts a day: %s × %s = %s; each is written to %s timelines: %s writes a day.", dauT, postsT, Sci(dau*posts), follT, Sci(writes)),
		sprintf("A day ≈ 10⁵ s: about %s writes/s on average (86,400 s: %s); at peak × %s: %s.", Num(writes/1e5), Num(writes/day), peakT, p.text("peak_writes")),
		sprintf("Memory: %s timelines × %s entries × %s bytes = %s bytes = %s.", dauT, capT, entryT, Sci(mem), p.text("memory")))
}

func genReadWrite(p *Problem, r *rand.Rand) {
	dau, actions := dailyUsers(r), pick(r, 10., 20, 50, 100)
	ratio, peak := pick(r, 4., 9, 19, 49, 99), pick(r, 2., 3, 5)
	dauT := p.in("daily_users", dau, Count(dau))
	actionsT := p.in("actions_per_user", actions, Num(actions))
	ratioT := p.in("read_write_ratio", ratio, Num(ratio))
	peakT := p.in("peak_factor", peak, Num(peak))
	p.say(sprintf("%s daily active users make %s requests each a day, %s reads for every write (%s:1).", dauT, actionsT, ratioT, ratioT),
		sprintf("The busiest hour carries %s times the average.", peakT))
	total := dau * actions
	writes := total / (ratio + 1)
	p.ask("writes", "Peak writes per second", unitWrites, writes/day*peak)
	p.ask("reads", "Peak reads per second", unitReads, writes*ratio/day*peak)
	p.step(sprintf("Requests a day: %s × %s = %s; one in %s is a write: %s writes a day.", dauT, actionsT, Sci(total), Num(ratio+1), Sci(writes)),
		sprintf("A day ≈ 10⁵ s: about %s writes/s on average (86,400 s: %s); at peak × %s: %s.", Num(writes/1e5), Num(writes/day), peakT, p.text("writes")),
		sprintf("Reads are %s times the writes: %s.", ratioT, p.text("reads")))
}
