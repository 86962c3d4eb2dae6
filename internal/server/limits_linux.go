package server

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// setLimits caps the process's data segment at mem bytes (RLIMIT_DATA:
// since Linux 4.7 the private writable mappings, which is the heap Go
// uses, not the address space it reserves, which RLIMIT_AS would count);
// zero leaves it alone. The limit catches what Go allocates outside the
// address space it reserved beforehand; the heap that grows inside it is
// not counted, which is why the server also watches a building worker's
// resident memory (watchMemory).
//
// It also makes the worker exit on SIGXCPU, which the kernel sends when a
// build passes the CPU time limitCPU sets.
func setLimits(mem uint64) error {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGXCPU)
	go func() {
		<-c
		os.Stderr.WriteString(cpuLimitMessage + "\n")
		os.Exit(3)
	}()
	if mem == 0 {
		return nil
	}
	return syscall.Setrlimit(syscall.RLIMIT_DATA, &syscall.Rlimit{Cur: mem, Max: mem})
}

// limitCPU lets the process use, from now, twice d of CPU time plus a
// second (RLIMIT_CPU's soft limit: past it, SIGXCPU); d <= 0 lifts the
// limit, for an idle worker, which uses none. A build's worker gets twice
// the time left to its deadline: the server kills it at the deadline, so
// the limit only stops a worker whose server cannot, such as one whose
// server died.
func limitCPU(d time.Duration) {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_CPU, &lim) != nil {
		return
	}
	lim.Cur = lim.Max
	if d > 0 {
		var ru syscall.Rusage
		if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
			return
		}
		used := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		lim.Cur = min(uint64((used+2*d+time.Second)/time.Second)+1, lim.Max)
	}
	syscall.Setrlimit(syscall.RLIMIT_CPU, &lim)
}

// peakRSS is the most memory an exited process had resident, in bytes.
func peakRSS(ps *os.ProcessState) int64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss << 10 // kilobytes
	}
	return 0
}

// lowerPriority lowers the CPU priority of a process to nice 10. Linux
// keeps a priority per thread, so each of its threads is lowered (twice
// over, for threads started meanwhile); threads it starts later inherit
// it.
func lowerPriority(pid int) {
	for range 2 {
		tasks, _ := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
		for _, t := range tasks {
			if tid, err := strconv.Atoi(t.Name()); err == nil {
				syscall.Setpriority(syscall.PRIO_PROCESS, tid, 10)
			}
		}
	}
}

var pageSize = int64(os.Getpagesize())

// privateRSS is the resident memory of a process that it does not share
// (that is not its executable's pages): resident less shared in
// /proc/<pid>/statm. Zero when it cannot be read.
func privateRSS(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
	if err != nil {
		return 0
	}
	// size resident shared text lib data dt, in pages
	var size, resident, shared int64
	if _, err := fmt.Sscan(string(b), &size, &resident, &shared); err != nil {
		return 0
	}
	return (resident - shared) * pageSize
}
