package procstat

import (
	"os"
	"testing"
)

// TestMachineBusyCountsThisProcess: CPU time this process burns shows in
// the machine's busy time.
func TestMachineBusyCountsThisProcess(t *testing.T) {
	self := os.Getpid()
	before, err := MachineBusySeconds()
	if err != nil {
		t.Fatal(err)
	}
	start, err := CPUSeconds(self)
	if err != nil {
		t.Fatal(err)
	}
	for x := 0; ; x++ {
		if x%1_000_000 == 0 {
			now, err := CPUSeconds(self)
			if err != nil {
				t.Fatal(err)
			}
			if now-start >= 0.3 {
				break
			}
		}
	}
	after, err := MachineBusySeconds()
	if err != nil {
		t.Fatal(err)
	}
	if after-before < 0.25 {
		t.Errorf("the machine was busy %.2f s while this process burnt 0.3 s", after-before)
	}
}
