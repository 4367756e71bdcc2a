package drills

import (
	"math"
	"math/rand/v2"
)

func genStorage(p *Problem, r *rand.Rand) {
	dau, items := dailyUsers(r), pick(r, 0.5, 1, 2, 5, 10)
	size, copies := pick(r, 200., 500, 1e3, 2e3, 5e3, 10e3), pick(r, 2., 3)
	dauT := p.in("daily_users", dau, Count(dau))
	itemsT := p.in("items_per_user", items, Num(items))
	sizeT := p.in("item_bytes", size, Bytes(size))
	copiesT := p.in("copies", copies, Num(copies))
	p.say(sprintf("%s daily active users each save %s records a day on average; a record with its indexes takes %s.", dauT, itemsT, sizeT),
		sprintf("The database keeps %s copies of everything. Nothing is deleted.", copiesT))
	daily := dau * items * size
	p.ask("per_day", "New data a day (one copy)", unitGB, daily/1e9)
	year := daily * 365 * copies
	p.ask("per_year", "Storage added a year, all copies", unitTB, year/1e12)
	p.step(sprintf("A day: %s × %s × %s = %s bytes = %s.", dauT, itemsT, sizeT, Sci(daily), p.text("per_day")),
		sprintf("A year ≈ 400 days (365 exactly): %s × 365 = %s for one copy.", Bytes(daily), Bytes(daily*365)),
		sprintf("× %s copies: %s.", copiesT, p.text("per_year")))
}

func genCache(p *Problem, r *rand.Rand) {
	distinct := pick(r, 50e6, 100e6, 200e6, 500e6, 1e9)
	size, share := pick(r, 1e3, 2e3, 5e3, 10e3, 20e3), pick(r, 0.1, 0.2)
	cache := distinct * share * size
	node := 16e9
	for _, n := range []float64{64e9, 32e9} {
		if cache/n >= 3 {
			node = n
			break
		}
	}
	distT := p.in("distinct_items", distinct, Count(distinct))
	sizeT := p.in("item_bytes", size, Bytes(size))
	shareT := p.in("hot_share", share, Num(share*100)+"%")
	nodeT := p.in("node_bytes", node, Bytes(node))
	p.say(sprintf("A catalogue serves %s distinct items a day, each %s once cached with its key.", distT, sizeT),
		sprintf("The hottest %s of the items take most of the reads, and the cache keeps exactly those.", shareT),
		sprintf("Each cache node has %s of memory for data.", nodeT))
	p.ask("cache", "Cache size", unitGB, cache/1e9)
	p.ask("nodes", "Cache nodes", unitNodes, cache/node)
	p.step(sprintf("Hot items: %s × %s = %s.", distT, shareT, Sci(distinct*share)),
		sprintf("Memory: %s × %s = %s bytes = %s.", Sci(distinct*share), sizeT, Sci(cache), p.text("cache")),
		sprintf("Nodes: %s ÷ %s = %s, rounded up: %s (before any room for growth or a spare).", Bytes(cache), nodeT, Num(cache/node), p.text("nodes")))
}

func genShards(p *Problem, r *rand.Rand) {
	writes, row := pick(r, 500., 1000, 2000, 5000, 10000), pick(r, 200., 500, 1e3, 2e3)
	years, peak := pick(r, 1., 2, 3, 5), pick(r, 2., 3)
	shardBytes, shardWrites := pick(r, 1e12, 2e12, 4e12), pick(r, 2000., 5000)
	writesT := p.in("writes_per_second", writes, Num(writes))
	rowT := p.in("row_bytes", row, Bytes(row))
	yearsT := p.in("years", years, Num(years))
	peakT := p.in("peak_factor", peak, Num(peak))
	shardT := p.in("shard_bytes", shardBytes, Bytes(shardBytes))
	shardWT := p.in("shard_writes", shardWrites, Num(shardWrites))
	p.say(sprintf("A service inserts %s rows a second on average, %s times that at peak; a row with its indexes takes %s.", writesT, peakT, rowT),
		sprintf("It keeps %s years of rows. A shard should hold at most %s and take at most %s writes a second.", yearsT, shardT, shardWT))
	data := writes * day * 365 * years * row
	p.ask("data", "Data after those years", unitTB, data/1e12)
	bySize, byWrites := data/shardBytes, writes*peak/shardWrites
	p.ask("shards", "Shards needed", unitShards, math.Max(bySize, byWrites))
	p.step(sprintf("Rows a year: %s × 86,400 s × 365 = %s (a year ≈ 3×10⁷ s: %s).", writesT, Sci(writes*day*365), Sci(writes*3e7)),
		sprintf("Data: × %s years × %s = %s.", yearsT, rowT, p.text("data")),
		sprintf("By size: %s ÷ %s = %s shards. By writes: %s × %s ÷ %s = %s shards.", Bytes(data), shardT, Num(bySize), writesT, peakT, shardWT, Num(byWrites)),
		sprintf("The larger wins, rounded up: %s.", p.text("shards")))
}

func genLimiter(p *Problem, r *rand.Rand) {
	clients := pick(r, 1e6, 5e6, 10e6, 50e6, 100e6)
	keyBytes, limit, entry := pick(r, 64., 100, 128), pick(r, 10., 60, 100, 1000), pick(r, 40., 64)
	clientsT := p.in("clients", clients, Count(clients))
	keyT := p.in("counter_bytes", keyBytes, Num(keyBytes))
	limitT := p.in("limit", limit, Num(limit))
	entryT := p.in("entry_bytes", entry, Num(entry))
	p.say(sprintf("%s clients are active in the same window; each may make %s requests a window.", clientsT, limitT),
		sprintf("A fixed-window counter (key, count and TTL) costs about %s bytes in Redis; a sliding log keeps one sorted-set entry per request, about %s bytes each.", keyT, entryT),
		"Size the sliding log for every client at its limit.")
	fixed := clients * keyBytes
	log := clients * limit * entry
	p.ask("fixed", "Fixed window memory", unitGB, fixed/1e9)
	p.ask("log", "Sliding log memory", unitGB, log/1e9)
	p.step(sprintf("Fixed window: %s × %s bytes = %s bytes = %s.", clientsT, keyT, Sci(fixed), p.text("fixed")),
		sprintf("Sliding log: %s × %s entries × %s bytes = %s bytes = %s, %s times the fixed window.", clientsT, limitT, entryT, Sci(log), p.text("log"), Num(log/fixed)))
}

func genVideo(p *Problem, r *rand.Rand) {
	uploads, minutes := pick(r, 100e3, 200e3, 500e3, 1e6, 2e6), pick(r, 3., 5, 8, 10)
	mbps, years := pick(r, 4., 6, 8, 12), pick(r, 1., 2, 3, 5)
	uploadsT := p.in("uploads_per_day", uploads, Count(uploads))
	minutesT := p.in("minutes", minutes, Num(minutes))
	mbpsT := p.in("megabits_per_second", mbps, Num(mbps))
	yearsT := p.in("years", years, Num(years))
	p.say(sprintf("Creators upload %s videos a day, %s minutes long on average.", uploadsT, minutesT),
		sprintf("The renditions kept of a video together take %s Mbit/s of playing time, and videos are kept for %s years.", mbpsT, yearsT))
	perVideo := minutes * 60 * mbps * 1e6 / 8
	daily := uploads * perVideo
	p.ask("per_day", "Storage added a day", unitTB, daily/1e12)
	p.ask("total", "Storage after those years", unitPB, daily*365*years/1e15)
	p.step(sprintf("One video: %s min × 60 s × %s Mbit/s ÷ 8 bits a byte = %s.", minutesT, mbpsT, Bytes(perVideo)),
		sprintf("A day: %s × %s = %s.", uploadsT, Bytes(perVideo), p.text("per_day")),
		sprintf("Kept %s years: × 365 × %s (a year ≈ 400 days) = %s.", yearsT, yearsT, p.text("total")))
}
