package drills

import (
	"math"
	"math/rand/v2"
)

func genReplicas(p *Problem, r *rand.Rand) {
	reads, writes := pick(r, 20e3, 50e3, 80e3, 100e3, 200e3), pick(r, 1e3, 2e3, 5e3, 10e3)
	capacity := pick(r, 10e3, 15e3, 20e3, 30e3)
	for capacity < 2*writes {
		capacity += 10e3
	}
	readsT := p.in("reads_per_second", reads, Num(reads))
	writesT := p.in("writes_per_second", writes, Num(writes))
	capT := p.in("node_capacity", capacity, Num(capacity))
	p.say(sprintf("At peak a database takes %s reads and %s writes a second.", readsT, writesT),
		sprintf("One node of this size handles %s queries a second, and replaying a write costs a replica as much as serving a query.", capT),
		"The primary takes every write and no reads; every replica replays every write and serves reads.")
	left := capacity - writes
	p.ask("read_capacity", "Reads one replica can serve", unitQueries, left)
	p.ask("replicas", "Replicas needed", unitReplicas, reads/left)
	p.step(sprintf("Each replica replays all %s writes/s, so of its %s queries/s it has %s for reads.", writesT, capT, p.text("read_capacity")),
		sprintf("Replicas: %s ÷ %s = %s, rounded up: %s.", readsT, Num(left), Num(reads/left), p.text("replicas")),
		sprintf("Ignoring the replay (%s ÷ %s = %s) undercounts; adding replicas never adds write capacity.", readsT, capT, Num(reads/capacity)))
}

func genQueue(p *Problem, r *rand.Rand) {
	normal, mult := pick(r, 500., 1000, 2000), pick(r, 3., 4, 5)
	minutes, each := pick(r, 5., 10, 15, 30), pick(r, 50., 100, 250)
	consumers := math.Ceil(normal * pick(r, 1.5, 2) / each)
	burst := normal * mult
	normalT := p.in("normal_rate", normal, Num(normal))
	burstT := p.in("burst_rate", burst, Num(burst))
	minutesT := p.in("burst_minutes", minutes, Num(minutes))
	eachT := p.in("consumer_rate", each, Num(each))
	consT := p.in("consumers", consumers, Num(consumers))
	p.say(sprintf("Producers put %s messages a second on a queue, but during a %s-minute sale they put %s a second.", normalT, minutesT, burstT),
		sprintf("%s consumers each handle %s messages a second, and the group does not grow during the sale.", consT, eachT))
	drain := consumers * each
	backlog := (burst - drain) * minutes * 60
	p.ask("backlog", "Backlog when the sale ends", unitMessages, backlog)
	p.ask("drain", "Minutes to drain it afterwards", unitMinutes, backlog/(drain-normal)/60)
	p.ask("consumers", "Consumers to keep up with the sale", unitConsumers, burst/each)
	p.step(sprintf("The group handles %s × %s = %s messages/s.", consT, eachT, Num(drain)),
		sprintf("During the sale the queue grows by %s − %s = %s a second for %s × 60 s: %s.", burstT, Num(drain), Num(burst-drain), minutesT, p.text("backlog")),
		sprintf("After it, the group gains %s − %s = %s a second: %s ÷ %s ≈ %s s, %s.", Num(drain), normalT, Num(drain-normal), Num(backlog), Num(drain-normal), Num(backlog/(drain-normal)), p.text("drain")),
		sprintf("To keep up instead: %s ÷ %s = %s.", burstT, eachT, p.text("consumers")))
}

func genKeyspace(p *Problem, r *rand.Rand) {
	monthly, years, room := pick(r, 10e6, 50e6, 100e6, 200e6, 500e6), pick(r, 5., 10, 20), pick(r, 10., 100)
	monthT := p.in("links_per_month", monthly, Count(monthly))
	yearsT := p.in("years", years, Num(years))
	roomT := p.in("headroom", room, Num(room))
	p.say(sprintf("A URL shortener creates %s links a month and keeps them for %s years.", monthT, yearsT),
		sprintf("Codes use the 62 characters a-z, A-Z and 0-9, and you want %s times more codes than links so random codes rarely collide.", roomT))
	total := monthly * 12 * years
	p.ask("links", "Links stored", unitLinks, total)
	length := 1.0
	for math.Pow(62, length) < total*room {
		length++
	}
	p.ask("length", "Shortest code length", unitChars, length)
	p.step(sprintf("Links: %s × 12 × %s = %s.", monthT, yearsT, p.text("links")),
		sprintf("Codes wanted: × %s = %s.", roomT, Sci(total*room)),
		sprintf("62⁶ ≈ 5.7×10¹⁰ and 62⁷ ≈ 3.5×10¹² (each character multiplies by 62 ≈ 10^1.8); the first length with enough codes: 62%s ≈ %s, so %s.",
			sup(int(length)), Sci(math.Pow(62, length)), p.text("length")))
}
