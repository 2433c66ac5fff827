"""The one training loop data-parallel under torchrun: 2 CPU processes (gloo) on a tiny DCGAN.

One launch (torch starts twice, the slow part): each rank trains run A for 6 steps without a
break, and run B for 3 steps; then, as a restarted run would, builds fresh networks on B's run
folder, which load its checkpoint and train on to step 6."""
import subprocess
import sys

import torch

WORKER = '''
import sys
import torch
from ganret_lib.core import distributed
from ganret_lib.core.loop import FitConfig
from ganret_lib.gan import dcgan
from ganret_lib.gan.models import DCGANConfig

root = sys.argv[1]
distributed.init_from_environment(torch.device("cpu"))
torch.set_num_threads(1)
images = torch.rand(64, 1, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1


def run(folder, until):
    return dcgan.dcgan_fitter("ddp-test", DCGANConfig(nz=8, ngf=4, ndf=4), dcgan.GANConfig(sample_every=100),
                              FitConfig(steps=6, batch_size=16, checkpoint_every=100, log_every=1), images,
                              device="cpu", until=until, folder=f"{root}/{folder}", progress=False)


def state(fitter):
    return {n: {k: v.clone() for k, v in m.state_dict().items()} for n, m in fitter.modules.items()}


whole = run("whole", 6)
first = run("resumed", 3)
saved = {"whole": state(whole), "first": state(first), "first_step": first.step}
resumed = run("resumed", 6)  # fresh networks: everything comes from the checkpoint
rank, world = distributed.rank_and_world()
torch.save(saved | {"resumed": state(resumed), "step": resumed.step, "world": world}, f"{root}/rank{rank}.pt")
distributed.shutdown()
'''


def same(a: dict, b: dict) -> bool:
    return all(torch.equal(a[n][k], b[n][k]) for n in a for k in a[n])


def test_two_ranks_hold_identical_weights_and_a_resumed_run_repeats_the_uninterrupted_one(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(script), str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert r0["world"] == r1["world"] == 2 and r0["step"] == r1["step"] == 6 and r0["first_step"] == 3
    assert same(r0["whole"], r1["whole"]) and same(r0["resumed"], r1["resumed"])  # parameters and BN buffers
    assert not same(r0["first"], r0["whole"])  # step 3 is not step 6 ...
    assert same(r0["resumed"], r0["whole"])  # ... and resuming from it changed nothing
    assert len((tmp_path / "resumed" / "stats.jsonl").read_text().splitlines()) == 6  # rank 0 alone logs
    assert not same(r0["whole"], single_process_state(tmp_path))  # two ranks did train differently


def single_process_state(tmp_path) -> dict:
    """The same run in this process: each rank's own noise makes the data-parallel run another run."""
    from ganret_lib.core.loop import FitConfig
    from ganret_lib.gan import dcgan
    from ganret_lib.gan.models import DCGANConfig

    images = torch.rand(64, 1, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    fitter = dcgan.dcgan_fitter("ddp-test", DCGANConfig(nz=8, ngf=4, ndf=4), dcgan.GANConfig(sample_every=100),
                                FitConfig(steps=6, batch_size=16, checkpoint_every=100, log_every=1), images,
                                device="cpu", folder=tmp_path / "single", progress=False)
    return {n: m.state_dict() for n, m in fitter.modules.items()}
