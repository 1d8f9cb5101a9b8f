import { app } from '@azure/functions';

// Request bodies arrive as streams, so every endpoint can stop reading at 1 MiB instead of letting the
// worker buffer whatever a caller sends.
app.setup({ enableHttpStream: true });
