"""nbgrader configuration for the cnnkit course.

solutions/NAME/ is the instructor's source (solutions and hidden tests);
`nbgrader generate_assignment NAME` writes the student release to assignments/NAME/.
"""
c = get_config()  # noqa: F821  (provided by nbgrader when it reads this file)

c.CourseDirectory.root = "."
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "assignments"
c.CourseDirectory.course_id = "cnnkit"

# nbgrader collect copies no symbolic link (nor FIFO, socket, device) a student put in the exchange.
c.ExchangeFactory.collect = "cnnkit.grading.exchange.LinkSafeCollect"

# Per-cell time limit while autograding (nbgrader 0.9 reads Execute.timeout).
c.Execute.timeout = 300
# A student who deleted a test cell still gets it back, so the cell is graded.
c.OverwriteCells.add_missing_cells = True
# Released notebooks are cleared of outputs.
c.ClearOutput.enabled = True
# Submissions are rendered in the instructor's browser (formgrader, feedback): nbconvert drops script
# and event handlers from their HTML and Markdown (the grader also keeps only text and images from a
# student's outputs).
c.HTMLExporter.sanitize_html = True

# The grading sandbox (python -m cnnkit grade runs every submission in bubblewrap). Inside an
# assignment's sandbox these modules raise ImportError, so a graded function cannot hand its work
# to the kit's reference code, torch or scipy, whatever the notebook does to the in-kernel checks.
# The grader's own process (where test verdicts are decided) still has all of them.
_REFERENCE_OPS = ["cnnkit.ops.conv", "cnnkit.ops.pool", "cnnkit.ops.norm", "cnnkit.ops.activations", "cnnkit.nn"]
_NOT_NUMPY = ["torch", "scipy.signal", "scipy.ndimage"]
# the size formulas the hidden ops share (the checks they also hold stay: the filter bank needs them)
_SIZE_FORMULAS = ["cnnkit._geometry." + name for name in
                  ("conv_out_len", "pool_out_len", "conv_padding", "same_padding_split", "pool_window", "extent")]
c.CnnkitGrader.hidden_modules = {
    "a1_convolution": (_REFERENCE_OPS + ["cnnkit.arith", "cnnkit.summary", "cnnkit.models"] + _NOT_NUMPY
                       + _SIZE_FORMULAS),
    "a2_pooling_normalization": (_REFERENCE_OPS + ["cnnkit.arith", "cnnkit.summary", "cnnkit.models"] + _NOT_NUMPY
                                 + _SIZE_FORMULAS),
    # a3 uses the kit's conv2d forward, ReLU and softmax loss: its backward passes, pooling, layers
    # and non-numpy code go (scikit-learn, which reads the digits, needs scipy.ndimage)
    "a3_cnn_from_scratch": ["cnnkit.ops.conv.conv2d_backward", "cnnkit.ops.pool", "cnnkit.ops.norm", "cnnkit.nn",
                            "cnnkit.models", "torch", "scipy.signal"],
    # a4 is PyTorch: the kit's ready-made models and its occlusion map go (the trainer and plots stay)
    "a4_resnet_gpu": ["cnnkit.models", "cnnkit.viz.occlusion_sensitivity"],
}
c.CnnkitGrader.memory_mb = 4096      # address space of each sandboxed process
c.CnnkitGrader.max_processes = 256   # processes and threads in one sandbox
