# RosterSync for servers. Docker does not run on the development machines of this project;
# this file is kept correct by reading. Build: docker build -t rostersync .
FROM swift:6.2-noble AS build
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --product rostersync

FROM ubuntu:24.04
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       libcurl4 libxml2 tzdata ca-certificates postgresql-client \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/lib/swift/linux/*.so* /usr/lib/swift/linux/
COPY --from=build /src/.build/release/rostersync /usr/local/bin/rostersync
# The program finds sql/ and pipelines/ in share/rostersync beside its bin folder.
COPY sql /usr/local/share/rostersync/sql
COPY pipelines /usr/local/share/rostersync/pipelines
COPY demo /usr/local/share/rostersync/demo
ENV LD_LIBRARY_PATH=/usr/lib/swift/linux
WORKDIR /work
ENTRYPOINT ["rostersync"]
CMD ["--help"]
