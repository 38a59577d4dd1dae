"""The distillation-driven search: teacher-labelled frames collected by the student (DAgger),
a supernet trained by distillation on them (every op of every block), selection under a latency
budget on held-out frames, and the finish of the selected net by the same distillation."""
